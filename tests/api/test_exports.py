"""GET /testing/sessions/{id}/report in every format: the numbers agree with
the session, and each format parses with its own reader."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET

import pytest

from feedback.models import FeedbackReport
from tests.api.conftest import assert_envelope, make_health, make_result

pytestmark = pytest.mark.django_db


@pytest.fixture
def busy_session(session, endpoint, other_endpoint, tester):
    make_result(session, endpoint, "PASSED", minutes_ago=9)
    make_result(session, endpoint, "PASSED", minutes_ago=8)
    make_result(
        session,
        endpoint,
        "FAILED",
        minutes_ago=7,
        error_details="failed assertions: epicID matches\nsecond line",
    )
    make_result(
        session,
        other_endpoint,
        "ERROR",
        test_name="http_status_check",
        minutes_ago=6,
        error_details="OutboundTimeout: no answer in 5 s <&> \x01",
    )
    make_result(
        session,
        other_endpoint,
        "SKIPPED",
        test_name="http_status_check",
        minutes_ago=5,
        error_details="the endpoint is disabled",
    )
    make_result(
        session, other_endpoint, "PASSED", test_name="=HYPERLINK(1)", minutes_ago=4
    )
    for seconds, status, ms in (
        (300, "HEALTHY", 10),
        (200, "DEGRADED", 900),
        (100, "UNHEALTHY", 30),
    ):
        make_health(
            endpoint,
            status,
            session=session,
            seconds_ago=seconds,
            response_time_ms=ms,
        )
    FeedbackReport.objects.create(
        session=session,
        title="Payout | slow",
        description="Took 9 s",
        category="PERFORMANCE",
        priority="HIGH",
        reported_by=tester,
        github_issue_number=42,
        github_issue_url="https://github.com/o/r/issues/42",
        sync_state="SYNCED",
    )
    return session


def report(client, session, fmt=None):
    suffix = f"?format={fmt}" if fmt else ""
    return client.get(f"/testing/sessions/{session.pk}/report{suffix}")


def test_the_junit_export_parses_and_its_counts_match_the_session(
    owner_client, busy_session
):
    response = report(owner_client, busy_session, "junit")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/xml")
    assert "attachment" in response["Content-Disposition"]
    root = ET.fromstring(response.content)
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert len(suites) == 1
    suite = suites[0]
    assert suite.get("name") == busy_session.name
    cases = suite.findall("testcase")
    results = busy_session.test_results.all()
    assert len(cases) == results.count() == int(suite.get("tests"))
    assert int(suite.get("failures")) == results.filter(status="FAILED").count() == 1
    assert int(suite.get("errors")) == results.filter(status="ERROR").count() == 1
    assert int(suite.get("skipped")) == results.filter(status="SKIPPED").count() == 1
    for attr in ("tests", "failures", "errors", "skipped"):
        assert root.get(attr) == suite.get(attr)
    by_outcome = {
        tag: [c for c in cases if c.find(tag) is not None]
        for tag in ("failure", "error", "skipped")
    }
    assert [c.get("name") for c in by_outcome["failure"]] == ["yunite_user_lookup"]
    assert by_outcome["failure"][0].find("failure").get("message") == (
        "failed assertions: epicID matches"
    )
    assert by_outcome["error"][0].get("classname") == "http.http-sim"
    assert "OutboundTimeout" in by_outcome["error"][0].find("error").text
    assert len(by_outcome["skipped"]) == 1
    assert float(cases[0].get("time")) == 1.0
    properties = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert properties["session_id"] == str(busy_session.pk)
    assert properties["pass_rate"] == "0.6"


def test_the_junit_export_reads_with_junitparser_when_installed(
    tester_client, busy_session
):
    junitparser = pytest.importorskip("junitparser")
    xml = junitparser.JUnitXml.fromstring(
        report(tester_client, busy_session, "junit").content
    )
    suite = next(iter(xml))
    assert (suite.tests, suite.failures, suite.errors, suite.skipped) == (6, 1, 1, 1)


def test_the_csv_export_has_a_row_per_result_and_defuses_formulas(
    tester_client, busy_session
):
    response = report(tester_client, busy_session, "csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert len(rows) == 6
    assert [row["status"] for row in rows] == [
        "PASSED",
        "PASSED",
        "FAILED",
        "ERROR",
        "SKIPPED",
        "PASSED",
    ]
    assert rows[0]["endpoint_name"] == "yunite-sim"
    assert rows[0]["assertions_passed"] == "1" and rows[0]["assertions_total"] == "1"
    assert rows[-1]["test_name"] == "'=HYPERLINK(1)"


def test_the_markdown_summary_tells_stakeholders_what_happened(
    tester_client, busy_session
):
    response = report(tester_client, busy_session, "md")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/markdown")
    text = response.content.decode()
    assert f"# Test session report: {busy_session.name}" in text
    assert "| 6 | 3 | 1 | 1 | 1 | 60.0 % |" in text  # results, pass rate
    assert "| yunite-sim | yunite | SIMULATED | 3 | 2 | 1 | 0 | 0 | 66.7 % |" in text
    assert "| http-sim | http | SIMULATED | 3 | 1 | 0 | 1 | 1 | 50.0 % |" in text
    # Health over the session: 3 checks, 2 of them up, the last UNHEALTHY.
    assert "| yunite-sim | SIMULATED | 3 | 1 | 1 | 1 | 0 | 66.7 % |" in text
    assert "UNHEALTHY |" in text
    assert "Payout \\| slow" in text
    assert "[#42](https://github.com/o/r/issues/42)" in text
    assert "**FAILED** `yunite_user_lookup`" in text


def test_the_json_export_is_the_default_and_carries_the_summary(
    tester_client, busy_session
):
    response = report(tester_client, busy_session)
    assert response.status_code == 200
    body = response.json()
    assert body["summary"] == {
        "total": 6,
        "passed": 3,
        "failed": 1,
        "errors": 1,
        "skipped": 1,
        "pass_rate": 0.6,
    }
    assert len(body["results"]) == 6
    assert body["session"]["id"] == str(busy_session.pk)
    assert body["feedback"][0]["github_issue_number"] == 42
    assert {row["endpoint_name"] for row in body["integrations"]} == {
        "yunite-sim",
        "http-sim",
    }
    assert body["health"][0]["checks"] == 3
    assert (
        report(tester_client, busy_session, "json").json()["summary"]
        == (body["summary"])
    )


def test_an_empty_session_exports_without_a_pass_rate(tester_client, session):
    text = report(tester_client, session, "md").content.decode()
    assert "n/a" in text and "No workflow was run" in text
    root = ET.fromstring(report(tester_client, session, "junit").content)
    assert root.find("testsuite").get("tests") == "0"


def test_an_unknown_format_is_400(tester_client, session):
    body = assert_envelope(report(tester_client, session, "pdf"), 400)
    assert "format" in body["details"]
