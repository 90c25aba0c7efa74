"""Session exports for stakeholders: JSON, CSV, JUnit XML and Markdown.

All four are built from the same summary, so the numbers agree across formats.
Pass rate = passed / (results that ran, i.e. not SKIPPED); ``None`` (``n/a``)
when nothing ran.

JUnit XML: the session is one ``<testsuite>``, each result a ``<testcase>``
(classname ``<kind>.<endpoint name>``); FAILED → ``<failure>``, ERROR →
``<error>``, SKIPPED → ``<skipped>``, and the counts on ``<testsuite>`` /
``<testsuites>`` match the session's results.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any
from xml.etree import ElementTree as ET

from django.utils import timezone

from sessions.models import TestResult, TestSession
from testenv.errors import InputError

FORMATS = {
    "json": ("application/json", "json"),
    "csv": ("text/csv; charset=utf-8", "csv"),
    "junit": ("application/xml; charset=utf-8", "xml"),
    "md": ("text/markdown; charset=utf-8", "md"),
}


@dataclass
class Export:
    media_type: str
    content_type: str
    filename: str
    body: str = ""
    data: dict[str, Any] = field(default_factory=dict)


# ------------------------------------------------------------------- summary


def _pass_rate(passed: int, ran: int) -> float | None:
    return round(passed / ran, 4) if ran else None


def _counts(results: list[TestResult]) -> dict[str, Any]:
    counter = Counter(result.status for result in results)
    passed = counter[TestResult.Status.PASSED]
    skipped = counter[TestResult.Status.SKIPPED]
    total = len(results)
    return {
        "total": total,
        "passed": passed,
        "failed": counter[TestResult.Status.FAILED],
        "errors": counter[TestResult.Status.ERROR],
        "skipped": skipped,
        "pass_rate": _pass_rate(passed, total - skipped),
    }


def _percentile(values: list[int], fraction: float) -> int | None:
    if not values:
        return None
    ordered = sorted(values)
    index = max(0, math.ceil(fraction * len(ordered)) - 1)
    return ordered[index]


def _health(session: TestSession) -> list[dict[str, Any]]:
    rows = session.health_statuses.select_related("endpoint").order_by(
        "checked_at", "id"
    )
    by_endpoint: dict[int, list] = defaultdict(list)
    for row in rows:
        by_endpoint[row.endpoint_id].append(row)
    out = []
    for checks in by_endpoint.values():
        endpoint = checks[0].endpoint
        statuses = Counter(check.status for check in checks)
        times = [check.response_time_ms for check in checks]
        out.append(
            {
                "endpoint_id": endpoint.pk,
                "endpoint_name": endpoint.name,
                "mode": endpoint.mode,
                "checks": len(checks),
                "healthy": statuses["HEALTHY"],
                "degraded": statuses["DEGRADED"],
                "unhealthy": statuses["UNHEALTHY"],
                "timeout": statuses["TIMEOUT"],
                "availability": round(
                    (statuses["HEALTHY"] + statuses["DEGRADED"]) / len(checks), 4
                ),
                "avg_response_time_ms": round(sum(times) / len(times)),
                "p95_response_time_ms": _percentile(times, 0.95),
                "last_status": checks[-1].status,
                "last_checked_at": checks[-1].checked_at,
            }
        )
    return sorted(out, key=lambda item: item["endpoint_name"])


def _per_integration(results: list[TestResult]) -> list[dict[str, Any]]:
    grouped: dict[int, list[TestResult]] = defaultdict(list)
    for result in results:
        grouped[result.endpoint_id].append(result)
    out = []
    for items in grouped.values():
        endpoint = items[0].endpoint
        out.append(
            {
                "endpoint_id": endpoint.pk,
                "endpoint_name": endpoint.name,
                "kind": endpoint.kind,
                "mode": endpoint.mode,
                **_counts(items),
            }
        )
    return sorted(out, key=lambda item: item["endpoint_name"])


def session_summary(session: TestSession) -> dict[str, Any]:
    """Everything the exports show, computed once."""
    from sessions.serializers import (
        FeedbackSummarySerializer,
        TestResultSerializer,
        TestSessionSerializer,
    )

    results = list(
        session.test_results.select_related("endpoint").order_by(
            "started_at", "completed_at", "id"
        )
    )
    feedback = list(session.feedback_reports.order_by("reported_at"))
    compensations = list(session.compensations.order_by("created_at", "id"))
    return {
        "session": dict(TestSessionSerializer(session).data),
        "tester": session.tester.get_username(),
        "started_at": session.started_at,
        "ended_at": session.ended_at,
        "generated_at": timezone.now(),
        "summary": _counts(results),
        "integrations": _per_integration(results),
        "health": _health(session),
        "results": results,
        "results_data": TestResultSerializer(results, many=True).data,
        "feedback": FeedbackSummarySerializer(feedback, many=True).data,
        "compensations": [
            {
                "id": c.pk,
                "endpoint_id": c.endpoint_id,
                "workflow": c.workflow,
                "action": c.action,
                "description": c.description,
                "state": c.state,
            }
            for c in compensations
        ],
    }


# ------------------------------------------------------------------- formats


def to_json(summary: dict[str, Any]) -> dict[str, Any]:
    return {
        "session": summary["session"],
        "tester": summary["tester"],
        "generated_at": summary["generated_at"],
        "summary": summary["summary"],
        "integrations": summary["integrations"],
        "health": summary["health"],
        "results": summary["results_data"],
        "feedback": summary["feedback"],
        "compensations": summary["compensations"],
    }


CSV_COLUMNS = [
    "result_id",
    "test_name",
    "endpoint_id",
    "endpoint_name",
    "kind",
    "mode",
    "status",
    "started_at",
    "completed_at",
    "duration_ms",
    "assertions_passed",
    "assertions_total",
    "trace_id",
    "error_details",
]


def _csv_cell(value: Any) -> Any:
    # Spreadsheets run a cell that starts with = + - @ as a formula (CSV
    # injection); a leading quote keeps it text.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def to_csv(summary: dict[str, Any]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for result in summary["results"]:
        assertions = result.assertions if isinstance(result.assertions, list) else []
        passed = sum(1 for a in assertions if isinstance(a, dict) and a.get("passed"))
        row = [
            str(result.pk),
            result.test_name,
            result.endpoint_id,
            result.endpoint.name,
            result.endpoint.kind,
            result.mode,
            result.status,
            result.started_at.isoformat(),
            result.completed_at.isoformat() if result.completed_at else "",
            result.duration_ms,
            passed,
            len(assertions),
            result.trace_id,
            result.error_details,
        ]
        writer.writerow([_csv_cell(value) for value in row])
    return buffer.getvalue()


_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _xml_text(value: Any) -> str:
    return _XML_INVALID.sub("\ufffd", "" if value is None else str(value))


def _first_line(text: str | None) -> str:
    lines = (text or "").strip().splitlines()
    return lines[0] if lines else ""


def _seconds(ms: int) -> str:
    return f"{ms / 1000:.3f}"


def _assertion_lines(result: TestResult) -> str:
    lines = []
    for item in result.assertions if isinstance(result.assertions, list) else []:
        if not isinstance(item, dict):
            continue
        mark = "ok" if item.get("passed") else "FAILED"
        lines.append(
            f"[{mark}] {item.get('name')}: expected {item.get('expected')!r}, "
            f"got {item.get('actual')!r}"
        )
    return "\n".join(lines)


def to_junit(summary: dict[str, Any]) -> str:
    session = summary["session"]
    counts = summary["summary"]
    results: list[TestResult] = summary["results"]
    total_ms = sum(result.duration_ms for result in results)
    attrs = {
        "tests": str(counts["total"]),
        "failures": str(counts["failed"]),
        "errors": str(counts["errors"]),
        "skipped": str(counts["skipped"]),
        "time": _seconds(total_ms),
    }
    suites = ET.Element("testsuites", {"name": "testenv", **attrs})
    suite = ET.SubElement(
        suites,
        "testsuite",
        {
            "name": _xml_text(session["name"]),
            "id": str(session["id"]),
            "timestamp": str(session["started_at"] or ""),
            "hostname": "testenv",
            **attrs,
        },
    )
    properties = ET.SubElement(suite, "properties")
    for name, value in (
        ("session_id", session["id"]),
        ("status", session["status"]),
        ("tester", summary["tester"]),
        ("started_at", session["started_at"]),
        ("ended_at", session["ended_at"] or ""),
        ("pass_rate", "" if counts["pass_rate"] is None else counts["pass_rate"]),
    ):
        ET.SubElement(properties, "property", {"name": name, "value": _xml_text(value)})
    for result in results:
        case = ET.SubElement(
            suite,
            "testcase",
            {
                "name": _xml_text(result.test_name),
                "classname": _xml_text(
                    f"{result.endpoint.kind}.{result.endpoint.name}"
                ),
                "time": _seconds(result.duration_ms),
                "timestamp": result.started_at.isoformat(),
            },
        )
        message = _xml_text(_first_line(result.error_details) or result.status)
        detail = "\n".join(
            part for part in (result.error_details, _assertion_lines(result)) if part
        )
        if result.status == TestResult.Status.FAILED:
            node = ET.SubElement(
                case, "failure", {"message": message, "type": "AssertionFailure"}
            )
            node.text = _xml_text(detail)
        elif result.status == TestResult.Status.ERROR:
            node = ET.SubElement(case, "error", {"message": message, "type": "Error"})
            node.text = _xml_text(detail)
        elif result.status == TestResult.Status.SKIPPED:
            ET.SubElement(case, "skipped", {"message": message})
        out = ET.SubElement(case, "system-out")
        out.text = _xml_text(
            f"result {result.pk} · mode {result.mode} · trace {result.trace_id}\n"
            + _assertion_lines(result)
        )
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


def _md(value: Any) -> str:
    text = "" if value is None else str(value)
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").strip()


def _when(value) -> str:
    return f"{value:%Y-%m-%d %H:%M:%S} UTC" if value else ""


def _rate(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f} %"


def to_markdown(summary: dict[str, Any]) -> str:
    session = summary["session"]
    counts = summary["summary"]
    lines = [
        f"# Test session report: {_md(session['name'])}",
        "",
        f"- **Status:** {session['status']}",
        f"- **Tester:** {_md(summary['tester'])}",
        f"- **Started:** {_when(summary['started_at'])}",
        f"- **Ended:** {_when(summary['ended_at']) or 'not yet'}",
        f"- **Session id:** `{session['id']}`",
    ]
    if session["description"]:
        lines += ["", _md(session["description"])]
    lines += [
        "",
        "## Summary",
        "",
        "| Results | Passed | Failed | Errors | Skipped | Pass rate |",
        "|---:|---:|---:|---:|---:|---:|",
        f"| {counts['total']} | {counts['passed']} | {counts['failed']} | "
        f"{counts['errors']} | {counts['skipped']} | {_rate(counts['pass_rate'])} |",
        "",
        "Pass rate = passed / results that ran (skipped ones excluded).",
        "",
        "## Results per integration",
        "",
    ]
    if summary["integrations"]:
        lines += [
            "| Integration | Kind | Mode | Results | Passed | Failed | Errors "
            "| Skipped | Pass rate |",
            "|---|---|---|---:|---:|---:|---:|---:|---:|",
        ]
        lines += [
            f"| {_md(row['endpoint_name'])} | {row['kind']} | {row['mode']} | "
            f"{row['total']} | {row['passed']} | {row['failed']} | {row['errors']} | "
            f"{row['skipped']} | {_rate(row['pass_rate'])} |"
            for row in summary["integrations"]
        ]
    else:
        lines.append("No workflow was run in this session.")
    lines += ["", "## Health over the session", ""]
    if summary["health"]:
        lines += [
            "| Integration | Mode | Checks | Healthy | Degraded | Unhealthy "
            "| Timeout | Availability | Avg ms | p95 ms | Last status |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        ]
        lines += [
            f"| {_md(row['endpoint_name'])} | {row['mode']} | {row['checks']} | "
            f"{row['healthy']} | {row['degraded']} | {row['unhealthy']} | "
            f"{row['timeout']} | {_rate(row['availability'])} | "
            f"{row['avg_response_time_ms']} | {row['p95_response_time_ms']} | "
            f"{row['last_status']} |"
            for row in summary["health"]
        ]
    else:
        lines.append("No health check was recorded during this session.")
    problems = [
        result
        for result in summary["results"]
        if result.status in (TestResult.Status.FAILED, TestResult.Status.ERROR)
    ]
    if problems:
        lines += ["", "## Failures and errors", ""]
        lines += [
            f"- **{result.status}** `{_md(result.test_name)}` on "
            f"{_md(result.endpoint.name)} ({result.mode}): "
            f"{_md(_first_line(result.error_details) or 'no details')}"
            for result in problems
        ]
    lines += ["", "## Feedback filed", ""]
    if summary["feedback"]:
        lines += [
            "| Title | Category | Priority | Status | GitHub issue |",
            "|---|---|---|---|---|",
        ]
        for report in summary["feedback"]:
            issue = (
                f"[#{report['github_issue_number']}]({report['github_issue_url']})"
                if report["github_issue_number"] and report["github_issue_url"]
                else (
                    f"#{report['github_issue_number']}"
                    if report["github_issue_number"]
                    else f"not yet ({report['sync_state'].lower()})"
                )
            )
            lines.append(
                f"| {_md(report['title'])} | {report['category']} | "
                f"{report['priority']} | {report['status']} | {issue} |"
            )
    else:
        lines.append("No feedback was filed in this session.")
    lines += ["", f"_Generated {summary['generated_at']:%Y-%m-%d %H:%M UTC}._", ""]
    return "\n".join(lines)


def export_session(session: TestSession, fmt: str | None) -> Export:
    """The session in format ``fmt`` (default json); ``InputError`` for an
    unknown format."""
    fmt = (fmt or "json").lower()
    if fmt not in FORMATS:
        raise InputError(
            f"Unknown export format {fmt!r}.",
            {"format": [f"Choose one of {', '.join(FORMATS)}."]},
        )
    content_type, extension = FORMATS[fmt]
    summary = session_summary(session)
    export = Export(
        media_type=content_type.split(";")[0],
        content_type=content_type,
        filename=f"session-{session.pk}.{extension}",
    )
    if fmt == "json":
        export.data = to_json(summary)
    elif fmt == "csv":
        export.body = to_csv(summary)
    elif fmt == "junit":
        export.body = to_junit(summary)
    else:
        export.body = to_markdown(summary)
    return export
