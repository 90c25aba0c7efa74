"""Credentials: encrypted at rest, rotated to a new key, and never shown again —
not in the database column, the captured exchanges, the logs or error messages."""

from __future__ import annotations

import json
import logging

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import override_settings

from integrations.crypto import CredentialError
from integrations.http import OutboundConnectionError, OutboundTimeout, get_client
from integrations.models import IntegrationEndpoint, NotificationChannel
from integrations.redaction import REDACTED, SecretRedactingFilter, redact_text
from tests.integrations.outbound_helpers import (
    Reply,
    isolated_outbound_settings,
    make_endpoint,
    running_server,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("outbound_settings")]

API_TOKEN = "yt-9f2c41d7e8a6b5c3d2e1f0a9"
CLIENT_SECRET = "cs/Xq+7Zp=Lm0Nn&8Rr"  # characters that URL and JSON encoding change
OLD_KEY = Fernet.generate_key().decode()
NEW_KEY = Fernet.generate_key().decode()


@pytest.fixture
def server():
    yield from running_server()


@pytest.fixture
def outbound_settings(redis_client):
    yield from isolated_outbound_settings(redis_client)


def _raw_column(table: str, column: str, pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])  # noqa: S608
        return cursor.fetchone()[0]


def _credentialed(server_url: str) -> IntegrationEndpoint:
    return make_endpoint(
        server_url,
        credentials={"api_token": API_TOKEN, "client_secret": CLIENT_SECRET},
        retry_attempts=0,
    )


def test_the_credentials_column_holds_no_credential(server):
    endpoint = _credentialed(server.url)

    raw = _raw_column(
        "integrations_integrationendpoint", "credentials_encrypted", endpoint.pk
    )

    assert raw
    assert API_TOKEN not in raw and CLIENT_SECRET not in raw
    reloaded = IntegrationEndpoint.objects.get(pk=endpoint.pk)
    assert reloaded.get_credentials()["api_token"] == API_TOKEN


def test_no_credential_reaches_the_captured_exchanges_or_the_logs(server, caplog):
    caplog.set_level(logging.DEBUG)
    # The server echoes everything back and sets a cookie carrying the token.
    server.default(
        "/echo", Reply(echo=True, headers={"Set-Cookie": f"session={API_TOKEN}"})
    )
    client = get_client(_credentialed(server.url))

    response = client.post(
        f"/echo?key={API_TOKEN}&client_secret={CLIENT_SECRET}",
        headers={"Y-Api-Token": API_TOKEN, "X-Trace": f"t-{API_TOKEN}"},
        json={"client_secret": CLIENT_SECRET, "note": f"<{API_TOKEN}>"},
        auth=("client-id", CLIENT_SECRET),
        label="echo",
    )
    client.post("/echo", data={"code": "auth-code-123", "memo": CLIENT_SECRET})

    assert API_TOKEN in response.text  # the caller sees the real answer
    captured = json.dumps(client.exchanges)
    for secret in (API_TOKEN, CLIENT_SECRET, "auth-code-123"):
        assert secret not in captured
        assert secret not in caplog.text
    assert json.dumps(CLIENT_SECRET)[1:-1] not in captured  # JSON-escaped form
    first = client.exchanges[0]
    assert first["request_headers"]["Y-Api-Token"] == REDACTED
    assert first["request_headers"]["Authorization"] == f"Basic {REDACTED}"
    assert first["request_body"]["client_secret"] == REDACTED
    assert first["request_body"]["note"] == f"<{REDACTED}>"
    assert first["response_headers"]["Set-Cookie"] == REDACTED
    assert "key=%5BREDACTED%5D" in first["url"] or f"key={REDACTED}" in first["url"]


def test_a_token_a_service_issues_is_redacted_wherever_it_shows_up_later(server):
    issued = "issued-access-token-77f1"
    server.default(
        "/token", Reply(200, {"access_token": issued, "token_type": "Bearer"})
    )
    server.default("/echo", Reply(echo=True))
    client = get_client(make_endpoint(server.url))

    client.post("/token", data={"grant_type": "client_credentials"})
    client.get("/echo", headers={"X-Debug": f"sent {issued}"})

    assert issued not in json.dumps(client.exchanges)
    assert client.redact(f"note: {issued}") == f"note: {REDACTED}"


def test_error_messages_of_failed_calls_carry_no_credential(server):
    server.default(f"/{API_TOKEN}", Reply(delay=1.0))
    endpoint = _credentialed(server.url)
    client = get_client(endpoint)

    with pytest.raises(OutboundTimeout) as timed_out:
        client.get(f"/{API_TOKEN}?token={CLIENT_SECRET}", timeout=0.2)
    url = server.url
    server.stop()
    with pytest.raises(OutboundConnectionError) as refused:
        get_client(endpoint).get(f"{url}/x?api_key={API_TOKEN}")

    for error in (timed_out.value, refused.value):
        assert API_TOKEN not in str(error) and CLIENT_SECRET not in str(error)
        assert API_TOKEN not in repr(error.args)


def test_the_log_filter_removes_registered_credentials(server, caplog):
    assert get_client(_credentialed(server.url)).credentials  # decrypting registers
    record = logging.LogRecord(
        "any.module", logging.ERROR, __file__, 1, "token was %s", (API_TOKEN,), None
    )

    SecretRedactingFilter().filter(record)

    assert record.getMessage() == f"token was {REDACTED}"


def test_short_values_are_left_alone_by_the_value_net():
    assert redact_text("id 42 and abc", ["42", "abc"]) == "id 42 and abc"
    assert redact_text("pw hunter22!", ["hunter22"]) == f"pw {REDACTED}!"


def _endpoint_and_channel() -> tuple[IntegrationEndpoint, NotificationChannel]:
    endpoint = make_endpoint("http://127.0.0.1:9", credentials={"api_token": API_TOKEN})
    channel = NotificationChannel(name="ops")
    channel.set_url(f"discord://{API_TOKEN}/hook")
    channel.save()
    return endpoint, channel


def test_rotate_credentials_reencrypts_everything_with_the_newest_key():
    with override_settings(FIELD_ENCRYPTION_KEYS=[OLD_KEY]):
        endpoint, channel = _endpoint_and_channel()
        make_endpoint("http://127.0.0.1:9")  # no credentials: nothing to rotate
    old_raw = _raw_column(
        "integrations_integrationendpoint", "credentials_encrypted", endpoint.pk
    )

    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW_KEY, OLD_KEY]):
        out = _run("rotate_credentials")
        again = _run("rotate_credentials")

    assert (
        "integrations.IntegrationEndpoint.credentials_encrypted: re-encrypted 1" in out
    )
    assert "integrations.NotificationChannel.url_encrypted: re-encrypted 1" in out
    assert "re-encrypted 0" in again and "re-encrypted 1" not in again
    new_raw = _raw_column(
        "integrations_integrationendpoint", "credentials_encrypted", endpoint.pk
    )
    assert new_raw != old_raw and API_TOKEN not in new_raw
    # The old key can go now.
    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW_KEY]):
        endpoint.refresh_from_db()
        channel.refresh_from_db()
        assert endpoint.get_credentials() == {"api_token": API_TOKEN}
        assert channel.get_url() == f"discord://{API_TOKEN}/hook"
    with (
        override_settings(FIELD_ENCRYPTION_KEYS=[OLD_KEY]),
        pytest.raises(CredentialError),
    ):
        endpoint.get_credentials()


def test_a_dry_run_reports_but_writes_nothing():
    with override_settings(FIELD_ENCRYPTION_KEYS=[OLD_KEY]):
        endpoint, _ = _endpoint_and_channel()
    before = _raw_column(
        "integrations_integrationendpoint", "credentials_encrypted", endpoint.pk
    )

    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW_KEY, OLD_KEY]):
        out = _run("rotate_credentials", "--dry-run")

    assert "credentials_encrypted: would re-encrypt 1" in out
    after = _raw_column(
        "integrations_integrationendpoint", "credentials_encrypted", endpoint.pk
    )
    assert after == before


def test_rotation_stops_without_writing_when_a_secret_cannot_be_decrypted():
    with override_settings(FIELD_ENCRYPTION_KEYS=[OLD_KEY]):
        endpoint, channel = _endpoint_and_channel()
    stranger = Fernet.generate_key().decode()
    with override_settings(FIELD_ENCRYPTION_KEYS=[stranger]):
        orphan = make_endpoint(
            "http://127.0.0.1:9", credentials={"api_token": "lost-one"}
        )
    before = _raw_column(
        "integrations_integrationendpoint", "credentials_encrypted", endpoint.pk
    )

    with (
        override_settings(FIELD_ENCRYPTION_KEYS=[NEW_KEY, OLD_KEY]),
        pytest.raises(CommandError) as failed,
    ):
        _run("rotate_credentials")

    assert f"pk={orphan.pk}" in str(failed.value)
    assert "lost-one" not in str(failed.value)
    assert (
        _raw_column(
            "integrations_integrationendpoint", "credentials_encrypted", endpoint.pk
        )
        == before
    )


def _run(*args: str) -> str:
    from io import StringIO

    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_a_credential_cut_by_the_capture_limit_leaves_no_fragment(server):
    body = "x" * 4090 + API_TOKEN + "y" * 100
    server.default("/long", Reply(200, body))
    client = get_client(_credentialed(server.url))

    client.get("/long")

    captured = client.exchanges[0]["response_body"]
    assert API_TOKEN[:6] not in captured
    assert "truncated" in captured


def test_secret_pairs_in_text_that_is_not_json_are_redacted(server):
    text = '{"access_token": "abc-issued-1", "scope": "identify", ' + "z" * 5000
    server.default("/odd", Reply(200, text))
    client = get_client(make_endpoint(server.url))

    client.get("/odd")

    captured = client.exchanges[0]["response_body"]
    assert "abc-issued-1" not in captured
    assert '"scope": "identify"' in captured
