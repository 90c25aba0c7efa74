/* testenv live dashboard: a snapshot on connect, then events; reconnects by itself. */
(function () {
  "use strict";

  const state = {
    endpoints: new Map(), session: null, results: [], alerts: new Map(),
    feedback: new Map(), workflows: [],
  };
  const COLOURS = ["#0969da", "#1a7f37", "#cf222e", "#8250df", "#9a6700", "#bf3989", "#1b7c83", "#953800"];
  const HISTORY = 40;
  const $ = (id) => document.getElementById(id);

  function esc(value) {
    return String(value ?? "").replace(/[&<>"']/g, (c) => ({
      "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;",
    })[c]);
  }
  function when(iso) {
    if (!iso) return "never";
    const date = new Date(iso);
    return date.toLocaleTimeString();
  }
  function cookie(name) {
    const match = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    return match ? decodeURIComponent(match[1]) : "";
  }
  async function api(method, url, body) {
    const options = { method, headers: { "X-CSRFToken": cookie("csrftoken") }, credentials: "same-origin" };
    if (body instanceof FormData) options.body = body;
    else if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    const response = await fetch(url, options);
    let data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    if (!response.ok) {
      const message = data && data.message ? data.message : response.status + " " + response.statusText;
      const details = data && data.details && Object.keys(data.details).length
        ? " " + JSON.stringify(data.details) : "";
      throw new Error(message + details);
    }
    return data;
  }
  function say(id, text, ok) {
    const el = $(id);
    el.textContent = text;
    el.classList.toggle("ok", !!ok);
  }

  /* ---- integrations ------------------------------------------------------ */
  function endpointIdOf(data) {
    if (data.endpoint_id !== undefined) return data.endpoint_id;
    if (data.endpoint && typeof data.endpoint === "object") return data.endpoint.id;
    return data.endpoint;
  }
  function applyHealth(data) {
    const id = endpointIdOf(data);
    const endpoint = state.endpoints.get(id);
    if (!endpoint) return;
    if (endpoint.checked_at && data.checked_at && new Date(data.checked_at) < new Date(endpoint.checked_at)) return;
    Object.assign(endpoint, {
      status: data.status, response_time_ms: data.response_time_ms, status_code: data.status_code,
      checked_at: data.checked_at, error_message: data.error_message || "",
    });
    const last = endpoint.history[endpoint.history.length - 1];
    if (!last || last.checked_at !== data.checked_at) {
      endpoint.history.push({ checked_at: data.checked_at, response_time_ms: data.response_time_ms, status: data.status });
      if (endpoint.history.length > HISTORY) endpoint.history.shift();
    }
    renderTiles();
    renderChart();
  }
  function renderTiles() {
    const tiles = $("tiles");
    if (!state.endpoints.size) {
      tiles.innerHTML = '<p class="empty">No integration endpoints yet: add them in the admin.</p>';
      return;
    }
    tiles.innerHTML = [...state.endpoints.values()].map((e) => `
      <article class="tile" data-endpoint-id="${esc(e.id)}" data-status="${esc(e.status || "UNKNOWN")}">
        <div class="name">${esc(e.name)}<span class="badge badge-${esc(e.mode)}">${esc(e.mode)}</span></div>
        <div><span class="status">${esc(e.status || "NOT CHECKED")}</span>
          ${e.response_time_ms != null ? `<span class="latency">${esc(e.response_time_ms)} ms</span>` : ""}</div>
        <div class="meta">${esc(e.kind)} · last check ${esc(when(e.checked_at))}${e.enabled ? "" : " · disabled"}</div>
        ${e.error_message ? `<div class="error">${esc(e.error_message)}</div>` : ""}
        <button type="button" class="secondary" data-check="${esc(e.id)}">Check now</button>
      </article>`).join("");
    renderWorkflowForm();
  }
  function renderChart() {
    const svg = $("chart");
    const endpoints = [...state.endpoints.values()].filter((e) => e.history.length);
    const times = endpoints.flatMap((e) => e.history.map((p) => Date.parse(p.checked_at))).filter((t) => !isNaN(t));
    const max = Math.max(10, ...endpoints.flatMap((e) => e.history.map((p) => p.response_time_ms || 0)));
    const width = 800, height = 220, pad = 24;
    const t0 = times.length ? Math.min(...times) : 0;
    const t1 = times.length ? Math.max(...times) : 1;
    const span = Math.max(1, t1 - t0);
    const x = (t) => pad + ((t - t0) / span) * (width - 2 * pad);
    const y = (ms) => height - pad - ((ms || 0) / max) * (height - 2 * pad);
    let html = `<text x="4" y="14" font-size="11" fill="#656d76">${Math.round(max)} ms</text>
      <line x1="${pad}" y1="${height - pad}" x2="${width - pad}" y2="${height - pad}" stroke="#d0d7de"/>`;
    if (times.length) {
      html += `<text x="${pad}" y="${height - 6}" font-size="11" fill="#656d76">${esc(when(new Date(t0).toISOString()))}</text>
        <text x="${width - pad}" y="${height - 6}" font-size="11" fill="#656d76" text-anchor="end">${esc(when(new Date(t1).toISOString()))}</text>`;
    }
    endpoints.forEach((e, index) => {
      const colour = COLOURS[index % COLOURS.length];
      const points = e.history.map((p) => [x(Date.parse(p.checked_at) || t1), y(p.response_time_ms)]);
      html += `<polyline fill="none" stroke="${colour}" stroke-width="2"
        points="${points.map(([px, py]) => `${px.toFixed(1)},${py.toFixed(1)}`).join(" ")}"><title>${esc(e.name)}</title></polyline>`;
      e.history.forEach((p, i) => {
        if (p.status !== "HEALTHY") {
          html += `<circle cx="${points[i][0].toFixed(1)}" cy="${points[i][1].toFixed(1)}" r="3.5"
            fill="${p.status === "DEGRADED" ? "#9a6700" : "#cf222e"}"><title>${esc(e.name)} ${esc(p.status)} at ${esc(when(p.checked_at))}</title></circle>`;
        }
      });
    });
    svg.innerHTML = html;
    $("legend").innerHTML = endpoints.map((e, index) =>
      `<span style="--c:${COLOURS[index % COLOURS.length]}">${esc(e.name)}</span>`).join("");
  }

  /* ---- session and results --------------------------------------------- */
  function renderSession() {
    const s = state.session;
    const running = s && (s.status === "ACTIVE" || s.status === "PAUSED");
    $("session").innerHTML = s ? `
      <p><strong>${esc(s.name)}</strong> <span class="pill pill-${esc(s.status)}" data-testid="session-status">${esc(s.status)}</span>
        by ${esc(s.tester || s.tester_id)} since ${esc(when(s.started_at))}</p>
      ${s.pause_reason ? `<p class="message">Paused: ${esc(s.pause_reason)}</p>` : ""}
      ${running && s.own !== false ? `<p>
        ${s.status === "ACTIVE" ? '<button type="button" class="secondary" data-session="PAUSED">Pause</button>' : '<button type="button" class="secondary" data-session="ACTIVE">Resume</button>'}
        ${s.status === "ACTIVE" ? '<button type="button" class="secondary" data-session="COMPLETED">Complete</button>' : ""}
        <a href="/testing/sessions/${esc(s.id)}/report?format=md">Report</a></p>` : ""}`
      : '<p class="empty">No session is running.</p>';
    $("start-session").hidden = !!running;
    $("run-workflow").hidden = !(running && s.status === "ACTIVE" && s.own !== false);
    renderWorkflowForm();
  }
  function renderWorkflowForm() {
    const select = $("workflow-select");
    const chosen = select.value;
    select.innerHTML = state.workflows.map((w) => `<option value="${esc(w.name)}">${esc(w.name)}</option>`).join("");
    if (chosen) select.value = chosen;
    if (select.selectedIndex < 0 && select.options.length) select.selectedIndex = 0;
    const workflow = state.workflows.find((w) => w.name === select.value);
    const endpoints = [...state.endpoints.values()].filter((e) => !workflow || workflow.kinds.includes(e.kind));
    const endpointSelect = $("endpoint-select");
    const chosenEndpoint = endpointSelect.value;
    endpointSelect.innerHTML = endpoints.map((e) =>
      `<option value="${esc(e.id)}">${esc(e.name)} (${esc(e.mode)})</option>`).join("");
    // The previous choice may not fit the chosen workflow's kinds.
    if (chosenEndpoint) endpointSelect.value = chosenEndpoint;
    if (endpointSelect.selectedIndex < 0 && endpointSelect.options.length) endpointSelect.selectedIndex = 0;
  }
  function renderResults() {
    const list = $("results");
    if (!state.results.length) { list.innerHTML = '<li class="empty">No results yet.</li>'; return; }
    list.innerHTML = state.results.map((r) => {
      const assertions = (r.assertions || []).map((a) =>
        `<li class="${a.passed ? "" : "assertion-fail"}">${a.passed ? "✔" : "✘"} ${esc(a.name)}
          ${a.passed ? "" : `— expected ${esc(JSON.stringify(a.expected))}, got ${esc(JSON.stringify(a.actual))}`}</li>`).join("");
      return `<li data-result-id="${esc(r.id)}"><details><summary>
        <span class="pill pill-${esc(r.status)}">${esc(r.status)}</span> ${esc(r.test_name)}
        on ${esc(r.endpoint_name || r.endpoint_id)} <span class="badge badge-${esc(r.mode)}">${esc(r.mode)}</span>
        · ${esc(r.duration_ms)} ms</summary>
        ${r.error_details ? `<p class="message">${esc(r.error_details)}</p>` : ""}
        <ul>${assertions}</ul></details></li>`;
    }).join("");
  }
  function applyResult(data) {
    if (state.session && data.session_id && String(data.session_id) !== String(state.session.id)) return;
    if (!data.endpoint_name) {
      const endpoint = state.endpoints.get(data.endpoint_id);
      if (endpoint) data.endpoint_name = endpoint.name;
    }
    state.results = [data, ...state.results.filter((r) => r.id !== data.id)].slice(0, 50);
    renderResults();
  }

  /* ---- alerts and feedback ---------------------------------------------- */
  function renderAlerts() {
    const list = $("alerts");
    list.innerHTML = state.alerts.size ? [...state.alerts.values()].map((a) => `
      <li data-alert-id="${esc(a.id)}"><span class="pill pill-OPEN">${esc(a.kind)}</span>
        ${esc(a.endpoint_name || (state.endpoints.get(a.endpoint_id) || {}).name || a.endpoint_id)} —
        ${esc(a.message)} <span class="meta">since ${esc(when(a.opened_at))}</span></li>`).join("")
      : '<li class="empty">No open alerts.</li>';
  }
  function renderFeedback() {
    const items = [...state.feedback.values()].sort((a, b) => (b.reported_at || "").localeCompare(a.reported_at || ""));
    $("feedback").innerHTML = items.slice(0, 20).map((f) => `
      <li data-feedback-id="${esc(f.id)}"><strong>${esc(f.title)}</strong>
        <span class="pill pill-${esc(f.sync_state)}">${esc(f.sync_state)}</span>
        ${f.github_issue_url ? `<a href="${esc(f.github_issue_url)}" target="_blank" rel="noopener">#${esc(f.github_issue_number)}</a>` : ""}
        <span class="meta">${esc(f.priority)} · ${esc(f.category)}</span></li>`).join("")
      || '<li class="empty">No feedback yet.</li>';
  }

  /* ---- socket -------------------------------------------------------------- */
  function applySnapshot(data) {
    state.endpoints = new Map(data.endpoints.map((e) => [e.id, e]));
    state.session = data.active_session;
    state.results = data.recent_results || [];
    state.alerts = new Map((data.open_alerts || []).map((a) => [a.id, a]));
    state.feedback = new Map((data.recent_feedback || []).map((f) => [f.id, f]));
    state.workflows = data.workflows || [];
    renderTiles(); renderChart(); renderSession(); renderResults(); renderAlerts(); renderFeedback();
  }
  const handlers = {
    snapshot: applySnapshot,
    health_status_update: applyHealth,
    test_result: applyResult,
    session_updated(data) {
      const own = String(data.tester_id) === String(window.TESTENV.userId);
      const current = state.session && String(state.session.id) === String(data.id);
      if (current || own || !state.session) {
        if (!current) state.results = [];
        state.session = Object.assign({}, current ? state.session : {}, data, { own });
        renderSession(); renderResults();
      }
    },
    feedback_submitted(data) { state.feedback.set(data.id, Object.assign(state.feedback.get(data.id) || {}, data)); renderFeedback(); },
    feedback_synced(data) { state.feedback.set(data.id, Object.assign(state.feedback.get(data.id) || {}, data)); renderFeedback(); },
    alert_opened(data) { state.alerts.set(data.id, data); renderAlerts(); },
    alert_resolved(data) { state.alerts.delete(data.id); renderAlerts(); },
  };

  let delay = 500;
  function connect() {
    const conn = $("connection");
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}${window.TESTENV.wsPath}`);
    window.TESTENV.socket = socket;
    conn.textContent = "connecting…"; conn.className = "conn conn-connecting";
    socket.onopen = () => { delay = 500; conn.textContent = "live"; conn.className = "conn conn-open"; };
    socket.onmessage = (message) => {
      const event = JSON.parse(message.data);
      const handler = handlers[event.type];
      if (handler) handler(event.data);
      document.body.dataset.lastEvent = event.type;
    };
    socket.onclose = () => {
      conn.textContent = "reconnecting…"; conn.className = "conn conn-closed";
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 10000);
    };
  }

  /* ---- forms ---------------------------------------------------------------- */
  document.addEventListener("click", async (event) => {
    const check = event.target.closest("[data-check]");
    if (check) {
      check.disabled = true;
      try { applyHealth(await api("POST", `/testing/integrations/${check.dataset.check}/health`)); }
      catch (error) { alert(error.message); }
      finally { check.disabled = false; }
    }
    const sessionButton = event.target.closest("[data-session]");
    if (sessionButton && state.session) {
      try {
        const data = await api("PATCH", `/testing/sessions/${state.session.id}`, { status: sessionButton.dataset.session });
        handlers.session_updated(data);
      } catch (error) { say("session-message", error.message); }
    }
  });
  $("workflow-select").addEventListener("change", renderWorkflowForm);
  $("start-session").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    try {
      const data = await api("POST", "/testing/sessions", {
        name: form.get("name"), description: form.get("description"), tester_id: window.TESTENV.userId,
      });
      state.session = Object.assign({}, data, { own: true }); state.results = [];
      renderSession(); renderResults(); say("session-message", "Session started.", true);
    } catch (error) { say("session-message", error.message); }
  });
  $("run-workflow").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    let testData = {};
    const raw = (form.get("test_data") || "").trim();
    if (raw) {
      try { testData = JSON.parse(raw); } catch (e) { say("session-message", "Test data is not valid JSON."); return; }
    }
    const button = event.target.querySelector("button");
    button.disabled = true; say("session-message", "Running…", true);
    try {
      const result = await api("POST", `/testing/sessions/${state.session.id}/results`, {
        test_name: form.get("test_name"), endpoint_id: Number(form.get("endpoint_id")), test_data: testData,
      });
      applyResult(result);
      say("session-message", `${result.test_name}: ${result.status}`, result.status === "PASSED");
    } catch (error) { say("session-message", error.message); }
    finally { button.disabled = false; }
  });
  $("feedback-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    if (state.session) form.append("session_id", state.session.id);
    if (![...form.getAll("files")].some((f) => f && f.size)) form.delete("files");
    const button = event.target.querySelector("button");
    button.disabled = true;
    try {
      const data = await api("POST", "/testing/feedback", form);
      handlers.feedback_submitted(data);
      event.target.reset();
      say("feedback-message", "Thanks: feedback stored" + (data.sync_state === "PENDING" ? ", the GitHub issue is on its way." : "."), true);
    } catch (error) { say("feedback-message", error.message); }
    finally { button.disabled = false; }
  });

  connect();
})();
