"""Contract of the session routes (SPEC §2): status codes, fields, types,
filters and error cases."""

from __future__ import annotations

import uuid
from datetime import datetime

import pytest
from django.utils import timezone

from integrations.models import AuditEvent
from sessions.models import TestResult, TestSession
from tests.api.conftest import assert_envelope, make_health, make_result

pytestmark = pytest.mark.django_db

SESSION_FIELDS = {
    "id": str,
    "name": str,
    "description": str,
    "status": str,
    "created_at": str,
    "started_at": str,
    "ended_at": (str, type(None)),
    "tester_id": int,
    "configuration": dict,
    "pause_reason": str,
    "paused_at": (str, type(None)),
}
RESULT_FIELDS = {
    "id": str,
    "session_id": str,
    "endpoint_id": int,
    "endpoint_name": str,
    "endpoint_kind": str,
    "test_name": str,
    "status": str,
    "started_at": str,
    "completed_at": (str, type(None)),
    "request_data": dict,
    "response_data": dict,
    "assertions": list,
    "error_details": str,
    "mode": str,
    "duration_ms": int,
    "trace_id": str,
}


def assert_fields(item: dict, fields: dict) -> None:
    assert set(item) == set(fields), set(item) ^ set(fields)
    for name, kind in fields.items():
        assert isinstance(item[name], kind), (name, item[name])


def iso(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


class ListSessionsTests:
    def test_it_lists_sessions_as_a_plain_array_with_every_field(
        self, tester_client, session, other_session
    ):
        response = tester_client.get("/testing/sessions")
        assert response.status_code == 200
        body = response.json()
        assert isinstance(body, list)
        assert {item["id"] for item in body} == {str(session.pk), str(other_session.pk)}
        for item in body:
            assert_fields(item, SESSION_FIELDS)
        mine = next(item for item in body if item["id"] == str(session.pk))
        assert mine["tester_id"] == session.tester_id
        assert mine["configuration"] == {"max_payment_ban": "0.5"}
        uuid.UUID(mine["id"])
        iso(mine["started_at"])

    def test_it_filters_by_status_and_by_tester(
        self, owner_client, session, other_session, second_tester
    ):
        other_session.transition_to(TestSession.Status.PAUSED)
        other_session.save()
        paused = owner_client.get("/testing/sessions?status=PAUSED").json()
        assert [item["id"] for item in paused] == [str(other_session.pk)]
        tinas = owner_client.get(f"/testing/sessions?tester_id={second_tester.pk}")
        assert [item["id"] for item in tinas.json()] == [str(other_session.pk)]
        unfiltered = owner_client.get("/testing/sessions?status=&tester_id=")
        assert len(unfiltered.json()) == 2
        both = owner_client.get(
            f"/testing/sessions?status=ACTIVE&tester_id={second_tester.pk}"
        )
        assert both.json() == []

    def test_it_returns_a_page_when_limit_or_offset_is_given(
        self, tester_client, session, other_session
    ):
        page = tester_client.get("/testing/sessions?limit=1").json()
        assert set(page) == {"count", "next", "previous", "results"}
        assert page["count"] == 2
        assert len(page["results"]) == 1
        assert page["previous"] is None
        assert "offset=1" in page["next"]
        second = tester_client.get("/testing/sessions?limit=1&offset=1").json()
        assert second["next"] is None
        assert {page["results"][0]["id"], second["results"][0]["id"]} == {
            str(session.pk),
            str(other_session.pk),
        }
        only_offset = tester_client.get("/testing/sessions?offset=1").json()
        assert only_offset["count"] == 2 and len(only_offset["results"]) == 1

    @pytest.mark.parametrize(
        "query, field",
        [
            ("status=RUNNING", "status"),
            ("tester_id=abc", "tester_id"),
            ("limit=0", "limit"),
            ("limit=x", "limit"),
            ("offset=-1", "offset"),
        ],
    )
    def test_it_refuses_bad_filters_with_field_details(
        self, tester_client, session, query, field
    ):
        body = assert_envelope(
            tester_client.get(f"/testing/sessions?{query}"), 400, "validation_error"
        )
        assert field in body["details"]


class CreateSessionTests:
    def test_it_creates_an_active_session_for_the_tester(self, tester_client, tester):
        before = timezone.now()
        response = tester_client.post(
            "/testing/sessions",
            {
                "name": "Payout run",
                "tester_id": tester.pk,
                "description": "Try payouts",
                "configuration": {"max_payment_ban": 0.25},
            },
            format="json",
        )
        assert response.status_code == 201, response.content
        body = response.json()
        assert_fields(body, SESSION_FIELDS)
        assert body["status"] == "ACTIVE"
        assert body["ended_at"] is None
        assert body["tester_id"] == tester.pk
        assert body["configuration"] == {"max_payment_ban": 0.25}
        assert iso(body["started_at"]) >= before
        stored = TestSession.objects.get(pk=body["id"])
        assert stored.name == "Payout run"
        event = AuditEvent.objects.get(action="session.create")
        assert event.actor == tester and event.target_id == body["id"]

    def test_it_requires_name_and_tester_id(self, tester_client):
        body = assert_envelope(
            tester_client.post("/testing/sessions", {}, format="json"),
            400,
            "validation_error",
        )
        assert {"name", "tester_id"} <= set(body["details"])

    @pytest.mark.parametrize(
        "payload, field",
        [
            ({"name": "  "}, "name"),
            ({"configuration": [1, 2]}, "configuration"),
            ({"configuration": {"max_payment_ban": "lots"}}, "configuration"),
            ({"tester_id": 987654}, "tester_id"),
        ],
    )
    def test_it_refuses_bad_values(self, tester_client, tester, payload, field):
        data = {"name": "ok", "tester_id": tester.pk, **payload}
        body = assert_envelope(
            tester_client.post("/testing/sessions", data, format="json"), 400
        )
        assert field in body["details"]

    def test_it_refuses_a_tester_id_of_a_user_who_is_not_a_tester(
        self, operator_client, product_owner
    ):
        body = assert_envelope(
            operator_client.post(
                "/testing/sessions",
                {"name": "x", "tester_id": product_owner.pk},
                format="json",
            ),
            400,
        )
        assert "tester_id" in body["details"]

    def test_it_answers_409_for_a_second_active_session_of_a_tester(
        self, tester_client, tester, session
    ):
        body = assert_envelope(
            tester_client.post(
                "/testing/sessions",
                {"name": "Another", "tester_id": tester.pk},
                format="json",
            ),
            409,
            "conflict",
        )
        assert body["details"]["active_session_id"] == str(session.pk)

    def test_it_answers_409_for_a_duplicate_active_name(
        self, operator_client, second_tester, session
    ):
        assert_envelope(
            operator_client.post(
                "/testing/sessions",
                {"name": session.name, "tester_id": second_tester.pk},
                format="json",
            ),
            409,
            "conflict",
        )

    def test_a_finished_session_frees_its_name_and_its_tester(
        self, tester_client, tester, session
    ):
        session.transition_to(TestSession.Status.COMPLETED)
        session.save()
        response = tester_client.post(
            "/testing/sessions",
            {"name": session.name, "tester_id": tester.pk},
            format="json",
        )
        assert response.status_code == 201

    def test_a_tester_cannot_create_a_session_for_another_tester(
        self, tester_client, second_tester
    ):
        assert_envelope(
            tester_client.post(
                "/testing/sessions",
                {"name": "Not mine", "tester_id": second_tester.pk},
                format="json",
            ),
            403,
            "permission_denied",
        )
        assert not TestSession.objects.exists()

    def test_an_operator_creates_sessions_for_any_tester(
        self, operator_client, second_tester
    ):
        response = operator_client.post(
            "/testing/sessions",
            {"name": "For Tina", "tester_id": second_tester.pk},
            format="json",
        )
        assert response.status_code == 201
        assert response.json()["tester_id"] == second_tester.pk


class RetrieveSessionTests:
    def test_it_includes_results_feedback_and_health_with_counts(
        self, owner_client, session, endpoint, tester
    ):
        from feedback.models import FeedbackReport

        make_result(session, endpoint, "PASSED", minutes_ago=2)
        newest = make_result(session, endpoint, "FAILED", error_details="boom")
        make_health(endpoint, session=session)
        make_health(endpoint)  # outside the session: not shown
        FeedbackReport.objects.create(
            session=session,
            title="Slow payout",
            description="It took 9 s",
            category="PERFORMANCE",
            reported_by=tester,
        )
        response = owner_client.get(f"/testing/sessions/{session.pk}")
        assert response.status_code == 200
        body = response.json()
        assert_fields(
            {k: body[k] for k in SESSION_FIELDS},
            SESSION_FIELDS,
        )
        assert body["test_results_count"] == 2
        assert [r["id"] for r in body["test_results"]][0] == str(newest.pk)
        for item in body["test_results"]:
            assert_fields(item, RESULT_FIELDS)
        assert body["health_statuses_count"] == 1
        health = body["health_statuses"][0]
        assert health["endpoint_id"] == endpoint.pk
        assert health["session_id"] == str(session.pk)
        assert health["status"] == "HEALTHY" and health["mode"] == endpoint.mode
        assert body["feedback_reports_count"] == 1
        report = body["feedback_reports"][0]
        assert report["title"] == "Slow payout"
        assert report["github_issue_number"] is None
        assert report["reported_by_id"] == tester.pk

    def test_it_shows_the_newest_hundred_of_each(
        self, tester_client, session, endpoint
    ):
        now = timezone.now()
        TestResult.objects.bulk_create(
            TestResult(
                session=session,
                endpoint=endpoint,
                test_name="yunite_user_lookup",
                status="PASSED",
                started_at=now,
                completed_at=now + timezone.timedelta(seconds=i),
            )
            for i in range(101)
        )
        body = tester_client.get(f"/testing/sessions/{session.pk}").json()
        assert body["test_results_count"] == 101
        assert len(body["test_results"]) == 100
        completed = [iso(item["completed_at"]) for item in body["test_results"]]
        assert completed == sorted(completed, reverse=True)
        assert min(completed) > now  # the oldest one is the one left out

    @pytest.mark.parametrize(
        "path",
        [
            f"/testing/sessions/{uuid.uuid4()}",
            "/testing/sessions/not-a-uuid",
            "/testing/sessions/12345",
        ],
    )
    def test_unknown_and_malformed_ids_are_404(self, tester_client, path):
        assert_envelope(tester_client.get(path), 404, "not_found")


class UpdateSessionTests:
    def test_it_pauses_resumes_and_completes(self, tester_client, session):
        url = f"/testing/sessions/{session.pk}"
        paused = tester_client.patch(
            url, {"status": "PAUSED", "reason": "lunch"}, format="json"
        )
        assert paused.status_code == 200
        body = paused.json()
        assert_fields(body, SESSION_FIELDS)
        assert body["status"] == "PAUSED" and body["pause_reason"] == "lunch"
        assert body["paused_at"] is not None
        resumed = tester_client.patch(url, {"status": "ACTIVE"}, format="json").json()
        assert resumed["status"] == "ACTIVE" and resumed["paused_at"] is None
        done = tester_client.patch(url, {"status": "COMPLETED"}, format="json").json()
        assert done["status"] == "COMPLETED"
        assert iso(done["ended_at"]) >= iso(done["started_at"])
        actions = list(
            AuditEvent.objects.filter(target_id=str(session.pk))
            .order_by("at")
            .values_list("changes__status", flat=True)
        )
        assert actions == [
            ["ACTIVE", "PAUSED"],
            ["PAUSED", "ACTIVE"],
            ["ACTIVE", "COMPLETED"],
        ]

    @pytest.mark.parametrize(
        "start, target",
        [
            ("COMPLETED", "ACTIVE"),
            ("FAILED", "PAUSED"),
            ("PAUSED", "COMPLETED"),
            ("ACTIVE", "ACTIVE"),
        ],
    )
    def test_an_illegal_transition_is_409(self, tester_client, session, start, target):
        TestSession.objects.filter(pk=session.pk).update(
            status=start,
            ended_at=timezone.now() if start in ("COMPLETED", "FAILED") else None,
        )
        body = assert_envelope(
            tester_client.patch(
                f"/testing/sessions/{session.pk}", {"status": target}, format="json"
            ),
            409,
            "conflict",
        )
        assert body["details"]["current"] == start
        assert body["details"]["target"] == target
        session.refresh_from_db()
        assert session.status == start

    def test_resuming_while_another_session_is_active_is_409(
        self, tester_client, tester, session
    ):
        session.transition_to(TestSession.Status.PAUSED)
        session.save()
        TestSession.objects.create(name="newer", tester=tester)
        assert_envelope(
            tester_client.patch(
                f"/testing/sessions/{session.pk}", {"status": "ACTIVE"}, format="json"
            ),
            409,
        )

    def test_it_replaces_the_configuration(self, tester_client, session):
        body = tester_client.patch(
            f"/testing/sessions/{session.pk}",
            {"configuration": {"max_payment_ban": "2"}},
            format="json",
        ).json()
        assert body["configuration"] == {"max_payment_ban": "2"}
        assert body["status"] == "ACTIVE"

    @pytest.mark.parametrize(
        "payload, field",
        [({"status": "DONE"}, "status"), ({"configuration": "x"}, "configuration")],
    )
    def test_bad_values_are_400(self, tester_client, session, payload, field):
        body = assert_envelope(
            tester_client.patch(
                f"/testing/sessions/{session.pk}", payload, format="json"
            ),
            400,
        )
        assert field in body["details"]


class CleanupRouteTests:
    def test_a_session_without_compensations_reports_nothing_undone(
        self, tester_client, session, tester
    ):
        from feedback.models import FeedbackReport

        FeedbackReport.objects.create(
            session=session,
            title="Kept",
            description="Feedback survives cleanup",
            category="OTHER",
            reported_by=tester,
        )
        response = tester_client.delete(f"/testing/sessions/{session.pk}/cleanup")
        assert response.status_code == 200
        assert response.json() == {
            "session_id": str(session.pk),
            "undone": 0,
            "failed": 0,
            "already_done": 0,
            "feedback_kept": 1,
            "compensations": [],
        }
        assert FeedbackReport.objects.filter(session=session).count() == 1
        assert AuditEvent.objects.filter(action="session.cleanup").count() == 1


class ResultsListTests:
    def test_it_lists_results_newest_first_and_filters_by_endpoint(
        self, owner_client, session, endpoint, other_endpoint
    ):
        old = make_result(session, endpoint, minutes_ago=5)
        new = make_result(session, other_endpoint, "ERROR", test_name="x")
        body = owner_client.get(f"/testing/sessions/{session.pk}/results").json()
        assert [item["id"] for item in body] == [str(new.pk), str(old.pk)]
        for item in body:
            assert_fields(item, RESULT_FIELDS)
        filtered = owner_client.get(
            f"/testing/sessions/{session.pk}/results?endpoint_id={endpoint.pk}"
        ).json()
        assert [item["id"] for item in filtered] == [str(old.pk)]
        page = owner_client.get(
            f"/testing/sessions/{session.pk}/results?limit=1"
        ).json()
        assert page["count"] == 2 and page["results"][0]["id"] == str(new.pk)

    def test_a_bad_endpoint_filter_is_400_and_an_unknown_session_404(
        self, tester_client, session
    ):
        assert_envelope(
            tester_client.get(f"/testing/sessions/{session.pk}/results?endpoint_id=x"),
            400,
        )
        assert_envelope(
            tester_client.get(f"/testing/sessions/{uuid.uuid4()}/results"), 404
        )


class RunWorkflowInputTests:
    """The error cases of POST /results that need no service (the runs
    themselves are in test_workflow_runs.py)."""

    def url(self, session) -> str:
        return f"/testing/sessions/{session.pk}/results"

    def test_it_requires_endpoint_id_and_test_name(self, tester_client, session):
        body = assert_envelope(
            tester_client.post(self.url(session), {}, format="json"), 400
        )
        assert {"endpoint_id", "test_name"} <= set(body["details"])

    def test_an_unknown_endpoint_is_400(self, tester_client, session):
        body = assert_envelope(
            tester_client.post(
                self.url(session),
                {"endpoint_id": 999999, "test_name": "yunite_user_lookup"},
                format="json",
            ),
            400,
        )
        assert "endpoint_id" in body["details"]

    def test_an_unknown_workflow_is_400(self, tester_client, session, endpoint):
        body = assert_envelope(
            tester_client.post(
                self.url(session),
                {"endpoint_id": endpoint.pk, "test_name": "no_such_flow"},
                format="json",
            ),
            400,
        )
        assert "test_name" in body["details"]
        assert not TestResult.objects.exists()

    def test_a_workflow_that_does_not_fit_the_endpoint_kind_is_400(
        self, tester_client, session, endpoint
    ):
        body = assert_envelope(
            tester_client.post(
                self.url(session),
                {"endpoint_id": endpoint.pk, "test_name": "discord_oauth_flow"},
                format="json",
            ),
            400,
        )
        assert "endpoint_id" in body["details"]
        assert not TestResult.objects.exists()

    @pytest.mark.parametrize("status", ["PAUSED", "COMPLETED", "FAILED"])
    def test_a_workflow_on_a_paused_or_finished_session_is_409(
        self, tester_client, session, endpoint, status
    ):
        TestSession.objects.filter(pk=session.pk).update(
            status=status,
            ended_at=None if status == "PAUSED" else timezone.now(),
        )
        body = assert_envelope(
            tester_client.post(
                self.url(session),
                {"endpoint_id": endpoint.pk, "test_name": "yunite_user_lookup"},
                format="json",
            ),
            409,
        )
        assert body["details"]["session_status"] == status
        assert not TestResult.objects.exists()

    def test_test_data_must_be_an_object(self, tester_client, session, endpoint):
        body = assert_envelope(
            tester_client.post(
                self.url(session),
                {
                    "endpoint_id": endpoint.pk,
                    "test_name": "yunite_user_lookup",
                    "test_data": [1],
                },
                format="json",
            ),
            400,
        )
        assert "test_data" in body["details"]
