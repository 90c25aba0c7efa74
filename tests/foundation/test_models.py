"""Every database constraint and every session transition, legal and illegal."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.test import override_settings
from django.utils import timezone

from feedback.models import FeedbackAttachment, FeedbackReport
from integrations.models import (
    Alert,
    HealthAggregate,
    IntegrationEndpoint,
    IntegrationHealthStatus,
)
from sessions.models import IllegalTransition, TestResult, TestSession

pytestmark = pytest.mark.django_db

ACTIVE = TestSession.Status.ACTIVE
PAUSED = TestSession.Status.PAUSED
COMPLETED = TestSession.Status.COMPLETED
FAILED = TestSession.Status.FAILED


def make_endpoint(**fields) -> IntegrationEndpoint:
    values = {
        "name": "yunite-sim",
        "kind": "yunite",
        "base_url": "http://127.0.0.1:8765/yunite/api",
    }
    values.update(fields)
    return IntegrationEndpoint.objects.create(**values)


def violates(create) -> bool:
    try:
        with transaction.atomic():
            create()
    except IntegrityError:
        return True
    return False


class SessionConstraintTests:
    def test_a_tester_cannot_have_two_active_sessions(self, tester):
        TestSession.objects.create(name="first", tester=tester)
        assert violates(
            lambda: TestSession.objects.create(name="second", tester=tester)
        )

    def test_a_tester_may_have_an_active_and_a_paused_session(self, tester):
        TestSession.objects.create(name="first", tester=tester, status=PAUSED)
        TestSession.objects.create(name="second", tester=tester)
        assert TestSession.objects.filter(tester=tester).count() == 2

    def test_names_are_unique_among_active_sessions(self, tester, second_tester):
        TestSession.objects.create(name="smoke", tester=tester)
        assert violates(
            lambda: TestSession.objects.create(name="smoke", tester=second_tester)
        )

    def test_a_finished_session_frees_its_name(self, tester, second_tester):
        now = timezone.now()
        TestSession.objects.create(
            name="smoke", tester=tester, status=COMPLETED, started_at=now, ended_at=now
        )
        TestSession.objects.create(name="smoke", tester=second_tester)
        assert TestSession.objects.filter(name="smoke").count() == 2

    def test_ended_at_cannot_precede_started_at(self, tester):
        now = timezone.now()
        assert violates(
            lambda: TestSession.objects.create(
                name="s", tester=tester, status=COMPLETED, started_at=now,
                ended_at=now - timedelta(seconds=1),
            )
        )  # fmt: skip

    def test_a_final_session_needs_ended_at_and_a_running_one_must_not_have_it(
        self, tester
    ):
        assert violates(
            lambda: TestSession.objects.create(
                name="a", tester=tester, status=COMPLETED
            )
        )
        assert violates(
            lambda: TestSession.objects.create(
                name="b", tester=tester, ended_at=timezone.now() + timedelta(seconds=1)
            )
        )

    def test_an_unknown_status_is_refused(self, tester):
        assert violates(
            lambda: TestSession.objects.create(name="s", tester=tester, status="DONE")
        )


LEGAL = [(ACTIVE, PAUSED), (PAUSED, ACTIVE), (ACTIVE, COMPLETED), (ACTIVE, FAILED),
         (PAUSED, FAILED)]  # fmt: skip


class SessionTransitionTests:
    @pytest.mark.parametrize(("source", "target"), LEGAL)
    def test_legal_transitions_are_allowed(self, tester, source, target):
        session = TestSession.objects.create(name="s", tester=tester, status=source)
        session.transition_to(target)
        session.save()
        session.refresh_from_db()
        assert session.status == target
        assert (session.ended_at is not None) == (target in (COMPLETED, FAILED))

    @pytest.mark.parametrize(
        ("source", "target"),
        [
            (s, t)
            for s in (ACTIVE, PAUSED, COMPLETED, FAILED)
            for t in (ACTIVE, PAUSED, COMPLETED, FAILED)
            if (s, t) not in LEGAL
        ],
    )
    def test_illegal_transitions_are_refused(self, tester, source, target):
        now = timezone.now()
        ended = now if source in (COMPLETED, FAILED) else None
        session = TestSession.objects.create(
            name="s", tester=tester, status=source, started_at=now, ended_at=ended
        )
        with pytest.raises(IllegalTransition):
            session.transition_to(target)
        session.refresh_from_db()
        assert session.status == source

    def test_pausing_records_the_reason(self, tester):
        session = TestSession.objects.create(name="s", tester=tester)
        session.transition_to(PAUSED, reason="yunite unhealthy 3 times")
        assert session.pause_reason == "yunite unhealthy 3 times"
        assert session.paused_at is not None


class EndpointConstraintTests:
    @pytest.mark.parametrize(
        "fields",
        [
            {"rate_limit_per_minute": 0},
            {"timeout_seconds": 0},
            {"timeout_seconds": 301},
            {"retry_attempts": 11},
            {"check_interval_seconds": 0},
            {"failure_threshold": 0},
            {"base_url": "ftp://example.org/"},
        ],
    )
    def test_out_of_range_settings_are_refused_by_the_database(self, fields):
        assert violates(lambda: make_endpoint(**fields))

    def test_boundaries_are_accepted(self):
        make_endpoint(timeout_seconds=1, retry_attempts=0, name="a")
        make_endpoint(timeout_seconds=300, retry_attempts=10, name="b")
        assert IntegrationEndpoint.objects.count() == 2

    def test_names_are_unique(self):
        make_endpoint()
        assert violates(make_endpoint)

    def test_full_clean_refuses_non_http_urls(self):
        endpoint = IntegrationEndpoint(
            name="x", kind="http", base_url="javascript:alert(1)"
        )
        with pytest.raises(ValidationError) as info:
            endpoint.full_clean()
        assert "base_url" in info.value.message_dict

    @override_settings(PRODUCTION_HOSTS=["api.pay2slay.example", "*.yunite.xyz"])
    def test_full_clean_refuses_production_hosts(self):
        for url in ("https://api.pay2slay.example/admin", "https://eu.yunite.xyz/api"):
            endpoint = IntegrationEndpoint(name="x", kind="http", base_url=url)
            with pytest.raises(ValidationError) as info:
                endpoint.full_clean()
            assert "production host" in str(info.value)


class HealthConstraintTests:
    @pytest.mark.parametrize("code", [99, 600])
    def test_status_codes_outside_100_599_are_refused(self, code):
        endpoint = make_endpoint()
        assert violates(
            lambda: IntegrationHealthStatus.objects.create(
                endpoint=endpoint, status="HEALTHY", status_code=code
            )
        )

    def test_a_null_status_code_is_allowed(self):
        endpoint = make_endpoint()
        IntegrationHealthStatus.objects.create(endpoint=endpoint, status="TIMEOUT")
        assert endpoint.health_statuses.count() == 1

    def test_aggregate_failures_cannot_exceed_count(self):
        endpoint = make_endpoint()
        hour = timezone.now().replace(minute=0, second=0, microsecond=0)
        assert violates(
            lambda: HealthAggregate.objects.create(
                endpoint=endpoint, hour=hour, count=2, failures=3
            )
        )

    def test_one_open_alert_per_endpoint_and_kind(self):
        endpoint = make_endpoint()
        Alert.objects.create(endpoint=endpoint, kind="DOWN")
        assert violates(lambda: Alert.objects.create(endpoint=endpoint, kind="DOWN"))
        Alert.objects.create(endpoint=endpoint, kind="LATENCY")

    def test_resolved_at_goes_with_the_resolved_state(self):
        endpoint = make_endpoint()
        assert violates(
            lambda: Alert.objects.create(
                endpoint=endpoint, kind="DOWN", state="RESOLVED"
            )
        )
        assert violates(
            lambda: Alert.objects.create(
                endpoint=endpoint, kind="DOWN", resolved_at=timezone.now()
            )
        )


class ResultConstraintTests:
    def test_completed_at_cannot_precede_started_at(self, tester):
        session = TestSession.objects.create(name="s", tester=tester)
        endpoint = make_endpoint()
        now = timezone.now()
        assert violates(
            lambda: TestResult.objects.create(
                session=session, endpoint=endpoint, test_name="t", status="PASSED",
                started_at=now, completed_at=now - timedelta(seconds=1),
            )
        )  # fmt: skip

    def test_an_unknown_result_status_is_refused(self, tester):
        session = TestSession.objects.create(name="s", tester=tester)
        endpoint = make_endpoint()
        assert violates(
            lambda: TestResult.objects.create(
                session=session, endpoint=endpoint, test_name="t", status="OK"
            )
        )


class FeedbackConstraintTests:
    def make(self, user, **fields) -> FeedbackReport:
        values = {
            "title": "Token exchange fails",
            "description": "400 on a fresh code",
            "category": "INTEGRATION",
            "reported_by": user,
        }
        values.update(fields)
        return FeedbackReport.objects.create(**values)

    @pytest.mark.parametrize("field", ["title", "description"])
    @pytest.mark.parametrize("blank", ["", "   "])
    def test_title_and_description_must_not_be_blank(self, tester, field, blank):
        assert violates(lambda: self.make(tester, **{field: blank}))

    @pytest.mark.parametrize("number", [0])
    def test_issue_numbers_are_positive(self, tester, number):
        assert violates(lambda: self.make(tester, github_issue_number=number))

    def test_an_issue_number_belongs_to_one_report(self, tester):
        self.make(tester, github_issue_number=7)
        assert violates(lambda: self.make(tester, github_issue_number=7))

    @pytest.mark.parametrize("status", ["OPEN", "IN_PROGRESS"])
    def test_resolved_at_only_when_resolved_or_closed(self, tester, status):
        assert violates(
            lambda: self.make(tester, status=status, resolved_at=timezone.now())
        )

    @pytest.mark.parametrize("status", ["RESOLVED", "CLOSED"])
    def test_resolved_at_is_allowed_when_resolved_or_closed(self, tester, status):
        report = self.make(tester, status=status, resolved_at=timezone.now())
        assert report.resolved_at is not None

    def test_attachments_must_not_be_empty(self, tester):
        report = self.make(tester)
        assert violates(
            lambda: FeedbackAttachment.objects.create(
                feedback=report, filename="a.txt", file="attachments/x",
                content_type="text/plain", file_size=0,
            )
        )  # fmt: skip


class CredentialStorageTests:
    def test_credentials_are_encrypted_in_the_column(self):
        endpoint = make_endpoint()
        endpoint.set_credentials({"api_token": "s3cret-yunite-token"})
        endpoint.save()
        endpoint.refresh_from_db()
        assert "s3cret-yunite-token" not in endpoint.credentials_encrypted
        assert endpoint.get_credentials() == {"api_token": "s3cret-yunite-token"}
