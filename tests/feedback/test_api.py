"""POST/GET/PATCH /testing/feedback: stored at once, GitHub never in the path."""

from __future__ import annotations

import json
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from feedback.models import FeedbackReport
from integrations.models import AuditEvent
from tests.api.conftest import assert_envelope

URL = "/testing/feedback"
REPORT = {
    "title": "Wallet link page 500s",
    "description": "POST /wallet/link answered 500 twice.",
    "category": "INTEGRATION",
    "priority": "HIGH",
}


@pytest.mark.django_db
def test_a_tester_submits_and_gets_201_pending_with_the_report(
    github_settings, tester_client, tester, failing_session
):
    response = tester_client.post(URL, REPORT, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["sync_state"] == "PENDING"
    assert body["status"] == "OPEN"
    assert body["github_issue_number"] is None
    assert body["reported_by"] == tester.pk
    assert body["session_id"] == str(failing_session.pk)  # the ACTIVE session
    assert body["attachments"] == []
    report = FeedbackReport.objects.get(pk=body["id"])
    assert report.title == REPORT["title"]
    assert report.submitted_from == "http://testserver"
    assert AuditEvent.objects.filter(
        action="feedback.submitted", target_id=str(report.pk), actor=tester
    ).exists()


@pytest.mark.django_db
def test_the_post_answers_while_github_hangs_and_queues_the_sync(
    github_settings,
    tester_client,
    redis_client,
    sync_queue,
    django_capture_on_commit_callbacks,
):
    github_settings.faults(hang=True)
    started = time.monotonic()
    with django_capture_on_commit_callbacks(execute=True):
        response = tester_client.post(URL, REPORT, format="json")
    elapsed = time.monotonic() - started

    assert response.status_code == 201
    assert response.json()["sync_state"] == "PENDING"
    # The hanging GitHub was never called; the sync went to the broker.
    assert elapsed < 2.0, elapsed
    assert github_settings.requests_seen() == []
    messages = redis_client.lrange(sync_queue, 0, -1)
    assert len(messages) == 1
    message = json.loads(messages[0])
    assert message["headers"]["task"] == "feedback.sync_github"
    assert response.json()["id"] in message["headers"]["argsrepr"]


@pytest.mark.django_db
def test_without_github_settings_a_submission_is_disabled(no_github, tester_client):
    response = tester_client.post(URL, REPORT, format="json")
    assert response.status_code == 201
    assert response.json()["sync_state"] == "DISABLED"


@pytest.mark.django_db
def test_a_multipart_submission_stores_its_files_and_metadata(
    github_settings, tester_client
):
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    response = tester_client.post(
        URL,
        {
            **REPORT,
            "session_id": "",
            "metadata": json.dumps({"browser": "Chromium"}),
            "files": [
                SimpleUploadedFile("shot.png", png, "image/png"),
                SimpleUploadedFile("har.json", b'{"log": {"entries": []}}', "text/x"),
            ],
        },
        format="multipart",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["session_id"] is None
    assert body["metadata"] == {"browser": "Chromium"}
    kinds = {a["filename"]: a["content_type"] for a in body["attachments"]}
    assert kinds == {"shot.png": "image/png", "har.json": "application/json"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"title": "   "}, "title"),
        ({"description": ""}, "description"),
        ({"category": "GOSSIP"}, "category"),
        ({"priority": "URGENT"}, "priority"),
        ({"session_id": "6f1c1d1e-0000-4000-8000-000000000000"}, "session_id"),
        ({"metadata": [1, 2]}, "metadata"),
        ({"metadata": {"note": "a\u0000b"}}, "metadata"),
        ({"metadata": {"blob": "x" * 70_000}}, "metadata"),
        ({"title": "nul\u0000title"}, "title"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(
    github_settings, tester_client, change, field
):
    response = tester_client.post(URL, {**REPORT, **change}, format="json")
    body = assert_envelope(response, 400, "validation_error")
    assert field in body["details"]
    assert not FeedbackReport.objects.exists()


@pytest.mark.django_db
def test_who_may_submit_read_and_triage(
    github_settings, tester_client, owner_client, outsider, api_client
):
    created = tester_client.post(URL, REPORT, format="json").json()
    detail = f"{URL}/{created['id']}"

    outsider_client = APIClient()
    outsider_client.force_authenticate(outsider)
    assert_envelope(outsider_client.get(URL), 403)
    assert_envelope(outsider_client.post(URL, REPORT, format="json"), 403)
    assert_envelope(outsider_client.get(detail), 403)
    assert_envelope(api_client.get(URL), 401)

    assert_envelope(owner_client.post(URL, REPORT, format="json"), 403)
    assert owner_client.get(detail).status_code == 200
    assert_envelope(
        tester_client.patch(detail, {"status": "RESOLVED"}, format="json"), 403
    )


@pytest.mark.django_db
def test_a_product_owner_triages_status_and_priority(
    github_settings, tester_client, owner_client, product_owner
):
    created = tester_client.post(URL, REPORT, format="json").json()
    detail = f"{URL}/{created['id']}"

    response = owner_client.patch(
        detail, {"status": "RESOLVED", "priority": "LOW"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "RESOLVED"
    assert response.json()["priority"] == "LOW"
    assert response.json()["resolved_at"] is not None

    response = owner_client.patch(detail, {"status": "IN_PROGRESS"}, format="json")
    assert response.json()["resolved_at"] is None
    assert (
        AuditEvent.objects.filter(
            action="feedback.triaged", actor=product_owner
        ).count()
        == 2
    )
    body = assert_envelope(
        owner_client.patch(detail, {"title": "x"}, format="json"), 400
    )
    assert "title" in body["details"]


@pytest.mark.django_db
def test_the_list_filters_by_status_priority_and_session_and_pages(
    github_settings, tester_client, owner_client, failing_session
):
    for priority in ("LOW", "HIGH", "HIGH"):
        tester_client.post(URL, {**REPORT, "priority": priority}, format="json")
    tester_client.post(URL, {**REPORT, "session_id": None}, format="json")
    FeedbackReport.objects.filter(priority="LOW").update(status="IN_PROGRESS")

    everything = owner_client.get(URL).json()
    assert isinstance(everything, list) and len(everything) == 4
    assert len(owner_client.get(URL, {"priority": "HIGH"}).json()) == 3
    assert len(owner_client.get(URL, {"status": "IN_PROGRESS"}).json()) == 1
    assert (
        len(owner_client.get(URL, {"status": "OPEN", "priority": "HIGH"}).json()) == 3
    )
    in_session = owner_client.get(URL, {"session_id": str(failing_session.pk)})
    assert len(in_session.json()) == 3
    page = owner_client.get(URL, {"limit": 2}).json()
    assert page["count"] == 4 and len(page["results"]) == 2
    assert_envelope(owner_client.get(URL, {"status": "DONE"}), 400)


@pytest.mark.django_db
def test_an_unknown_report_is_a_404_envelope(github_settings, owner_client):
    assert_envelope(
        owner_client.get(f"{URL}/7d0f5a4e-1111-4222-8333-944445555666"), 404
    )
