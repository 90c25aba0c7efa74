"""The generic workflow runner: statuses, recorded exchanges, input errors,
compensations — with small workflows registered here, run against a real
local server."""

from __future__ import annotations

import json
import logging
import re

import pytest
from pydantic import BaseModel

from integrations.kinds.base import (
    Workflow,
    WorkflowAbort,
    WorkflowInputError,
    register_workflow,
)
from integrations.workflows import (
    ERROR,
    FAILED,
    PASSED,
    SKIPPED,
    UnknownWorkflow,
    WorkflowKindMismatch,
    WorkflowSkipped,
    run_compensation,
    run_workflow,
)
from tests.integrations.outbound_helpers import (
    Reply,
    isolated_outbound_settings,
    make_endpoint,
    running_server,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("outbound_settings")]

SECRET = "runner-secret-5d1e0c"


class EchoInput(BaseModel):
    word: str
    behaviour: str = "pass"


@register_workflow
class RunnerEcho(Workflow):
    """Posts a word, asserts the echo; ``behaviour`` picks how it ends."""

    name = "runner_echo"
    kinds = ("http",)
    input_model = EchoInput

    def run(self, ctx, data):
        response = ctx.http.post("/echo", json={"word": data.word}, label="echo")
        body = response.json()
        ctx.notes["echoed"] = body["body"]
        ctx.register_compensation("forget", {"word": data.word}, "forget the word")
        if data.behaviour == "abort":
            ctx.require("word is secret", "secret", data.word, False)
        if data.behaviour == "crash":
            raise RuntimeError(f"lost the token {ctx.http.credentials['api_token']}")
        if data.behaviour == "skip":
            raise WorkflowSkipped("nothing to do here")
        if data.behaviour == "leak":
            ctx.notes["token"] = ctx.http.credentials["api_token"]
            ctx.check("token", "hidden", ctx.http.credentials["api_token"], True)
        ctx.check_equal("status", 200, response.status_code)
        ctx.check_equal("echoed word", data.word, json.loads(body["body"])["word"])
        if data.behaviour == "fail":
            ctx.check_equal("word length", 99, len(data.word))

    def compensate(self, endpoint, http, action, payload):
        if payload["word"] == "unforgettable":
            raise WorkflowAbort("cannot forget")
        response = http.delete(f"/words/{payload['word']}", label="forget")
        return {"status": response.status_code}


@register_workflow
class RunnerGithubOnly(Workflow):
    name = "runner_github_only"
    kinds = ("github",)

    def run(self, ctx, data):  # pragma: no cover - never reached
        raise AssertionError("must not run")


@pytest.fixture
def server():
    for scripted in running_server():
        scripted.default("/echo", Reply(echo=True))
        yield scripted


@pytest.fixture
def outbound_settings(redis_client):
    yield from isolated_outbound_settings(redis_client)


@pytest.fixture
def endpoint(server):
    return make_endpoint(server.url, credentials={"api_token": SECRET})


def run(endpoint, **test_data):
    return run_workflow(
        endpoint=endpoint,
        name="runner_echo",
        test_data=test_data,
        session_id="session-1",
        configuration={},
    )


def test_a_run_whose_assertions_hold_passes_and_records_its_exchanges(endpoint):
    outcome = run(endpoint, word="banana")

    assert outcome.status == PASSED
    assert outcome.error_details == ""
    assert [a["name"] for a in outcome.assertions] == ["status", "echoed word"]
    assert all(a["passed"] for a in outcome.assertions)
    assert outcome.request_data["test_data"] == {"word": "banana", "behaviour": "pass"}
    [sent] = outcome.request_data["exchanges"]
    [received] = outcome.response_data["exchanges"]
    assert sent["seq"] == received["seq"] == 1
    assert sent["method"] == "POST" and sent["label"] == "echo"
    assert sent["request_body"] == {"word": "banana"}
    assert received["status"] == 200
    assert received["response_body"]["method"] == "POST"
    assert outcome.response_data["notes"] == {"echoed": '{"word": "banana"}'}
    assert outcome.mode == endpoint.mode
    assert re.fullmatch(r"[0-9a-f]{32}", outcome.trace_id)
    assert outcome.duration_ms >= 0
    assert outcome.started_at <= outcome.completed_at
    assert [(c.action, c.payload) for c in outcome.compensations] == [
        ("forget", {"word": "banana"})
    ]


def test_a_failed_assertion_fails_the_run(endpoint):
    outcome = run(endpoint, word="banana", behaviour="fail")
    assert outcome.status == FAILED
    assert outcome.error_details == "failed assertions: word length"
    assert outcome.assertions[-1] == {
        "name": "word length",
        "expected": 99,
        "actual": 6,
        "passed": False,
    }


def test_an_abort_fails_the_run_and_keeps_its_compensations(endpoint):
    outcome = run(endpoint, word="banana", behaviour="abort")
    assert outcome.status == FAILED
    assert "word is secret" in outcome.error_details
    assert len(outcome.compensations) == 1


def test_a_transport_failure_is_an_error_without_secrets(server, endpoint):
    server.stop()
    outcome = run(endpoint, word=SECRET)
    assert outcome.status == ERROR
    assert outcome.error_details.startswith("OutboundConnectionError: POST ")
    assert "connection refused" in outcome.error_details
    assert SECRET not in json.dumps(outcome.request_data)
    assert outcome.response_data["exchanges"][0]["status"] is None


def test_an_unexpected_exception_is_an_error_and_its_secret_stays_out(endpoint, caplog):
    caplog.set_level(logging.DEBUG)
    outcome = run(endpoint, word="banana", behaviour="crash")

    assert outcome.status == ERROR
    assert outcome.error_details == "unexpected RuntimeError: lost the token [REDACTED]"
    assert "Traceback" in caplog.text
    assert SECRET not in caplog.text


def test_secrets_are_redacted_from_notes_and_assertions(endpoint):
    outcome = run(endpoint, word="banana", behaviour="leak")
    recorded = json.dumps(
        [outcome.assertions, outcome.request_data, outcome.response_data]
    )
    assert SECRET not in recorded
    assert outcome.response_data["notes"]["token"] == "[REDACTED]"


def test_a_workflow_may_skip_itself(endpoint):
    outcome = run(endpoint, word="banana", behaviour="skip")
    assert outcome.status == SKIPPED
    assert outcome.error_details == "nothing to do here"


def test_a_disabled_endpoint_is_skipped_without_a_call(server, endpoint):
    endpoint.enabled = False
    outcome = run(endpoint, word="banana")
    assert outcome.status == SKIPPED
    assert server.hits() == []


def test_an_unknown_workflow_is_an_input_error(endpoint):
    with pytest.raises(UnknownWorkflow) as caught:
        run_workflow(
            endpoint=endpoint,
            name="no_such_flow",
            test_data={},
            session_id=None,
            configuration={},
        )
    assert isinstance(caught.value, WorkflowInputError)
    assert "test_name" in caught.value.details


def test_a_workflow_for_another_kind_is_refused_before_any_call(server, endpoint):
    with pytest.raises(WorkflowKindMismatch) as caught:
        run_workflow(
            endpoint=endpoint,
            name="runner_github_only",
            test_data=None,
            session_id=None,
            configuration={},
        )
    assert "endpoint_id" in caught.value.details
    assert server.hits() == []


def test_bad_test_data_is_refused_before_any_call(server, endpoint):
    with pytest.raises(WorkflowInputError) as caught:
        run(endpoint, behaviour="pass")
    assert "word" in caught.value.details
    assert server.hits() == []


def test_a_compensation_runs_over_the_endpoint(server, endpoint):
    result = run_compensation(
        endpoint=endpoint,
        workflow_name="runner_echo",
        action="forget",
        payload={"word": "banana"},
    )
    assert result["ok"] is True
    assert result["result"] == {"status": 200}
    assert [e["url"] for e in result["exchanges"]] == [server.url + "/words/banana"]
    assert [hit.method for hit in server.hits()] == ["DELETE"]


def test_a_failing_compensation_is_reported_not_raised(endpoint):
    result = run_compensation(
        endpoint=endpoint,
        workflow_name="runner_echo",
        action="forget",
        payload={"word": "unforgettable"},
    )
    assert result["ok"] is False
    assert "cannot forget" in result["error"]


def test_the_generic_http_status_check_workflow(server, endpoint):
    server.default("/status", Reply(200))
    endpoint.health_check_url = server.url + "/status"

    passed = run_workflow(
        endpoint=endpoint,
        name="http_status_check",
        test_data={"max_latency_ms": 5000},
        session_id=None,
        configuration={},
    )
    failed = run_workflow(
        endpoint=endpoint,
        name="http_status_check",
        test_data={"path": "/status", "expected_status": 204},
        session_id=None,
        configuration={},
    )

    assert passed.status == PASSED
    assert [a["name"] for a in passed.assertions] == ["status code", "latency (ms)"]
    assert failed.status == FAILED
    assert failed.assertions[0]["actual"] == 200
