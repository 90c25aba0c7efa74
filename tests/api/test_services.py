"""Session services below the API: races, odd outcomes, the token command."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from integrations.kinds.base import PendingCompensation
from integrations.models import AuditEvent, Compensation
from integrations.workflows import WorkflowOutcome
from sessions import services
from sessions.models import TestSession
from sessions.selectors import session_spent_raw
from testenv.errors import ConflictError
from testenv.roles import is_tester

pytestmark = pytest.mark.django_db


def test_a_create_that_loses_the_race_is_a_conflict_not_an_integrity_error(
    tester, session, monkeypatch
):
    # The pre-check saw no ACTIVE session; another request created one since.
    calls = []
    original = services._active_conflict

    def stale_then_real(**kwargs):
        calls.append(kwargs)
        return None if len(calls) == 1 else original(**kwargs)

    monkeypatch.setattr(services, "_active_conflict", stale_then_real)
    with pytest.raises(ConflictError) as caught:
        services.session_create(actor=tester, name="late", tester_id=tester.pk)
    assert caught.value.details["active_session_id"] == str(session.pk)
    assert TestSession.objects.filter(tester=tester).count() == 1


def test_a_stored_result_loses_nul_characters_that_postgresql_refuses(
    session, endpoint
):
    now = timezone.now()
    outcome = WorkflowOutcome(
        status="ERROR",
        assertions=[{"name": "a\x00b", "expected": 1, "actual": "x\x00", "passed": 0}],
        request_data={"test_data": {"k\x00": "v\x00"}},
        response_data={"exchanges": [{"response_body": "bad\x00reply"}]},
        error_details="reply had \x00 in it",
        duration_ms=5,
        started_at=now,
        completed_at=now,
        compensations=[PendingCompensation("undo", {"id": "1\x002"}, "undo it")],
        mode="SIMULATED",
    )
    result = services.result_record(
        session=session, endpoint=endpoint, test_name="t", outcome=outcome
    )
    result.refresh_from_db()
    assert "\x00" not in result.error_details
    assert result.response_data["exchanges"][0]["response_body"] == "bad\ufffdreply"
    assert result.request_data == {"test_data": {"k\ufffd": "v\ufffd"}}
    assert result.assertions[0]["name"] == "a\ufffdb"
    assert Compensation.objects.get(session=session).payload == {"id": "1\ufffd2"}


def test_the_payment_cap_counts_every_run_that_may_have_paid(session, endpoint):
    from tests.api.conftest import make_result

    def payment(status: str, amount_raw: str) -> None:
        make_result(
            session,
            endpoint,
            status,
            test_name="banano_payment",
            response_data={"notes": {"amount_raw": amount_raw}},
        )

    payment("PASSED", "5000000000000000000000000000")
    payment("ERROR", "3000000000000000000000000000")  # outcome unknown: counted
    payment("FAILED", "0")  # refused by the node
    make_result(session, endpoint, "PASSED", response_data={"amount_raw": "7"})
    assert session_spent_raw(session) == 8 * 10**27


class TokenCommandTests:
    def test_it_prints_a_token_that_authenticates(self, tester, session):
        out = StringIO()
        call_command("create_api_token", tester.username, stdout=out)
        key = out.getvalue().strip()
        assert Token.objects.get(user=tester).key == key
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        assert client.get("/testing/sessions").status_code == 200
        again = StringIO()
        call_command("create_api_token", tester.username, stdout=again)
        assert again.getvalue().strip() == key

    def test_regenerate_replaces_the_key(self, tester):
        first, second = StringIO(), StringIO()
        call_command("create_api_token", tester.username, stdout=first)
        call_command(
            "create_api_token", tester.username, regenerate=True, stdout=second
        )
        assert first.getvalue() != second.getvalue()
        assert not Token.objects.filter(key=first.getvalue().strip()).exists()
        assert AuditEvent.objects.filter(action="token.create").count() == 2

    def test_it_creates_a_user_with_a_role_when_asked(self, db):
        out = StringIO()
        call_command(
            "create_api_token", "ci-bot", create=True, role="tester", stdout=out
        )
        token = Token.objects.get(key=out.getvalue().strip())
        assert token.user.username == "ci-bot"
        assert is_tester(token.user)
        assert not token.user.has_usable_password()

    def test_an_unknown_user_without_create_is_an_error(self, db):
        with pytest.raises(CommandError):
            call_command("create_api_token", "nobody")

    def test_operators_create_tokens_in_the_admin(self, superuser, tester, client):
        client.force_login(superuser)
        response = client.post(
            "/admin/authtoken/tokenproxy/add/", {"user": tester.pk}, follow=False
        )
        assert response.status_code == 302, response.content[:500]
        token = Token.objects.get(user=tester)
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        assert api.get("/testing/integrations").status_code == 200
