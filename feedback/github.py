"""What a report looks like on GitHub: title, labels, body, marker, links.

The body is rendered from ``templates/feedback/issue_body.md`` and is meant to
be actionable without opening testenv: the report, its session, LIVE or
SIMULATED per integration, the failing results with their assertions and
redacted request/response excerpts, integration health at the time of the
report, trace ids and links to the attachments. It ends with a hidden marker
``<!-- testenv-feedback:<report uuid> -->`` that a retry looks for before it
creates the issue again.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse

from feedback import selectors
from feedback.conf import conf
from feedback.models import FeedbackAttachment, FeedbackReport
from integrations.kinds.github.client import GitHubClient, html_base_url
from integrations.redaction import Redactor

MARKER_PREFIX = "testenv-feedback:"
# GitHub refuses bodies over 65536 characters; keep a margin for the marker.
BODY_LIMIT = 60_000
TEMPLATE = "feedback/issue_body.md"
ATTACHMENTS_TEMPLATE = "feedback/issue_attachments.md"
ATTACHMENTS_HEADING = "### Attachments"
ATTACHMENTS_END = "<sub>Filed by testenv"

CATEGORY_COLOUR = "1d76db"
PRIORITY_COLOURS = {
    FeedbackReport.Priority.LOW: "0e8a16",
    FeedbackReport.Priority.MEDIUM: "fbca04",
    FeedbackReport.Priority.HIGH: "d93f0b",
    FeedbackReport.Priority.CRITICAL: "b60205",
}


def marker_for(report: FeedbackReport) -> str:
    return f"<!-- {MARKER_PREFIX}{report.pk} -->"


def labels_for(report: FeedbackReport) -> dict[str, str]:
    """``{"category:<x>": colour, "priority:<x>": colour}``, lower case."""
    return {
        f"category:{report.category.lower()}": CATEGORY_COLOUR,
        f"priority:{report.priority.lower()}": PRIORITY_COLOURS.get(
            report.priority, "ededed"
        ),
    }


def issue_title(report: FeedbackReport) -> str:
    return report.title.strip()[:256]


def client_from_settings() -> GitHubClient:
    """A client for ``GITHUB_API_URL`` / ``GITHUB_REPO`` with ``GITHUB_TOKEN``."""
    return GitHubClient(
        settings.GITHUB_API_URL,
        settings.GITHUB_TOKEN,
        settings.GITHUB_REPO,
        timeout=conf("FEEDBACK_GITHUB_TIMEOUT_SECONDS"),
        seconds_between_requests=conf("FEEDBACK_GITHUB_SECONDS_BETWEEN_REQUESTS"),
        seconds_between_writes=conf("FEEDBACK_GITHUB_SECONDS_BETWEEN_WRITES"),
    )


# -- links ---------------------------------------------------------------------


def public_base_url(report: FeedbackReport) -> str:
    return (conf("FEEDBACK_PUBLIC_BASE_URL") or report.submitted_from or "").rstrip("/")


def report_url(report: FeedbackReport) -> str:
    path = reverse("feedback:feedback-detail", args=[report.pk])
    return public_base_url(report) + path


def attachment_url(report: FeedbackReport, attachment: FeedbackAttachment) -> str:
    path = reverse("feedback:attachment-download", args=[report.pk, attachment.pk])
    return public_base_url(report) + path


def new_issue_url(report: FeedbackReport) -> str:
    """A pre-filled "new issue" page on GitHub: the last resort when the sync
    keeps failing. Short body (URLs over ~8 kB are refused by browsers and
    proxies) with a link back to the full report."""
    repo = settings.GITHUB_REPO
    if not repo:
        return ""
    body = (
        f"{report.description.strip()[:1500]}\n\n"
        f"Category: {report.category} · Priority: {report.priority}\n"
        f"Full report with session results and attachments: {report_url(report)}\n"
    )
    query = urlencode(
        {
            "title": issue_title(report),
            "body": _neutralise_comments(body),
            "labels": ",".join(labels_for(report)),
        }
    )
    return f"{html_base_url(settings.GITHUB_API_URL)}/{repo}/issues/new?{query}"


# -- body ----------------------------------------------------------------------


def _neutralise_comments(text: str) -> str:
    # Any "<!--" in the rendered text came from data (a description, a captured
    # response): escape it so that nobody can plant another report's marker.
    return text.replace("<!--", "&lt;!--")


def fenced(text: str, language: str = "") -> str:
    """``text`` in a Markdown code fence longer than any backtick run inside."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{text}\n{fence}"


def excerpt(data: Any, limit: int) -> str:
    """Redacted, pretty JSON (or text), cut at ``limit`` characters."""
    if data in (None, "", {}, []):
        return ""
    # Results are redacted before storage; this second pass by key is defence
    # in depth, since the issue may live in a public repository.
    cleaned = Redactor().data(data)
    if isinstance(cleaned, str):
        text = cleaned
    else:
        text = json.dumps(cleaned, indent=2, ensure_ascii=False, default=str)
    if len(text) > limit:
        text = text[:limit] + f"\n…[truncated, {len(text) - limit} more characters]"
    return text


def _one_line(value: Any, limit: int = 200) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    text = " ".join(str(text).split())
    text = text.replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _result_context(result: Any, excerpt_chars: int) -> dict[str, Any]:
    assertions = [
        {
            "name": _one_line(item.get("name", "")),
            "expected": _one_line(item.get("expected")),
            "actual": _one_line(item.get("actual")),
            "passed": bool(item.get("passed")),
        }
        for item in (result.assertions or [])
        if isinstance(item, dict)
    ]
    request_text = excerpt(result.request_data, excerpt_chars)
    response_text = excerpt(result.response_data, excerpt_chars)
    error_text = excerpt(result.error_details, excerpt_chars)
    return {
        "result": result,
        "endpoint_name": result.endpoint.name if result.endpoint_id else "",
        "failed_assertions": [a for a in assertions if not a["passed"]],
        "assertion_count": len(assertions),
        "request": fenced(request_text, "json") if request_text else "",
        "response": fenced(response_text, "json") if response_text else "",
        "error": fenced(error_text) if error_text else "",
    }


def body_context(
    report: FeedbackReport, *, max_results: int, excerpt_chars: int
) -> dict[str, Any]:
    session = report.session
    failing = (
        list(selectors.session_failing_results(session, limit=max_results))
        if session
        else []
    )
    failing_total = selectors.session_failing_count(session) if session else 0
    used_endpoint_ids = {r.endpoint_id for r in failing}
    health_rows, health_hidden = selectors.health_at(
        report.reported_at, prefer_endpoint_ids=used_endpoint_ids
    )
    trace_ids: list[str] = []
    for candidate in (
        (report.metadata or {}).get("trace_id"),
        (report.metadata or {}).get("submission_trace_id"),
        *(r.trace_id for r in failing),
    ):
        if candidate and isinstance(candidate, str) and candidate not in trace_ids:
            trace_ids.append(candidate)
    for row in health_rows:
        row["error"] = _one_line(row["error"], 120) if row["error"] else ""
    attachments = attachments_context(report)
    client_metadata = {
        key: value
        for key, value in (report.metadata or {}).items()
        if key not in ("trace_id", "submission_trace_id")
    }
    metadata_text = excerpt(client_metadata, excerpt_chars)
    return {
        "report": report,
        "reporter": report.reported_by.get_username(),
        "report_url": report_url(report),
        "session": session,
        "session_configuration": fenced(
            excerpt(session.configuration, excerpt_chars), "json"
        )
        if session and session.configuration
        else "",
        "failing": [_result_context(r, excerpt_chars) for r in failing],
        "failing_total": failing_total,
        "health_rows": health_rows,
        "health_hidden": health_hidden,
        "trace_ids": trace_ids,
        "attachments": attachments,
        "metadata": fenced(metadata_text, "json") if metadata_text else "",
        "description": report.description.strip(),
    }


def attachments_context(report: FeedbackReport) -> list[dict[str, Any]]:
    return [
        {
            "attachment": a,
            "label": re.sub(r"([\[\]\\`*_])", r"\\\1", a.filename),
            "url": attachment_url(report, a),
        }
        for a in report.attachments.order_by("uploaded_at")
    ]


def render_attachments_section(report: FeedbackReport) -> str:
    text = render_to_string(
        ATTACHMENTS_TEMPLATE, {"attachments": attachments_context(report)}
    )
    return _neutralise_comments(text).strip() + "\n"


def body_with_attachments(report: FeedbackReport, body: str) -> str:
    """``body`` (the issue's current text) with its attachments section
    replaced by the current list; the rest, edits included, is kept. A body
    without the section gets it just above the marker."""
    section = render_attachments_section(report)
    start = body.find(ATTACHMENTS_HEADING)
    end = body.find(ATTACHMENTS_END, start + 1) if start >= 0 else -1
    if start >= 0 and end > start:
        return body[:start] + section + "\n" + body[end:]
    marker = marker_for(report)
    head, found, tail = body.rpartition(marker)
    if not found:
        return f"{body.rstrip()}\n\n{section}\n{marker}\n"
    return f"{head.rstrip()}\n\n{section}\n{marker}{tail}"


def render_issue_body(report: FeedbackReport) -> str:
    """The issue body, under GitHub's size limit, ending with the marker.

    When the full rendering is too long, excerpts shrink and fewer results
    are shown; as a last resort the text is cut (the marker always stays).
    """
    max_results = conf("FEEDBACK_ISSUE_MAX_FAILED_RESULTS")
    excerpt_chars = conf("FEEDBACK_ISSUE_EXCERPT_CHARS")
    text = ""
    for _ in range(6):
        context = body_context(
            report, max_results=max_results, excerpt_chars=excerpt_chars
        )
        text = _neutralise_comments(render_to_string(TEMPLATE, context)).strip()
        if len(text) <= BODY_LIMIT:
            break
        max_results = max(1, max_results // 2)
        excerpt_chars = max(200, excerpt_chars // 2)
    if len(text) > BODY_LIMIT:
        text = text[:BODY_LIMIT] + "\n\n…[cut: the full report is in testenv]"
    return f"{text}\n\n{marker_for(report)}\n"
