"""Production hosts are refused when an endpoint is saved and again at call time."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings

from integrations.http import ProductionHostRefused, get_client
from integrations.models import IntegrationEndpoint
from tests.integrations.outbound_helpers import (
    Reply,
    isolated_outbound_settings,
    make_endpoint,
    running_server,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("outbound_settings")]

PRODUCTION = ["api.pay2slay.example", "*.discord.com"]


@pytest.fixture
def server():
    yield from running_server()


@pytest.fixture
def outbound_settings(redis_client):
    yield from isolated_outbound_settings(redis_client)


@override_settings(PRODUCTION_HOSTS=PRODUCTION)
def test_saving_an_endpoint_with_a_production_base_url_is_refused():
    with pytest.raises(ValidationError) as refused:
        IntegrationEndpoint.objects.create(
            name="prod", kind="admin", base_url="https://api.pay2slay.example/admin"
        )

    assert "base_url" in refused.value.message_dict
    assert "production host" in refused.value.message_dict["base_url"][0]
    assert not IntegrationEndpoint.objects.filter(name="prod").exists()


@override_settings(PRODUCTION_HOSTS=PRODUCTION)
def test_a_production_health_check_url_is_refused_too_including_subdomains():
    endpoint = IntegrationEndpoint(
        name="discord",
        kind="discord",
        base_url="http://127.0.0.1:9/discord/api",
        health_check_url="https://canary.discord.com/api/v10/oauth2/@me",
    )
    with pytest.raises(ValidationError) as refused:
        endpoint.save()
    assert list(refused.value.message_dict) == ["health_check_url"]


@override_settings(PRODUCTION_HOSTS=PRODUCTION)
def test_full_clean_refuses_it_as_the_admin_and_the_api_would():
    endpoint = IntegrationEndpoint(
        name="prod", kind="admin", base_url="https://API.pay2slay.example./admin"
    )
    with pytest.raises(ValidationError) as refused:
        endpoint.full_clean()
    assert "base_url" in refused.value.message_dict


def test_moving_a_saved_endpoint_onto_a_production_host_is_refused():
    endpoint = make_endpoint("http://127.0.0.1:9")
    endpoint.base_url = "https://api.pay2slay.example"
    with override_settings(PRODUCTION_HOSTS=PRODUCTION), pytest.raises(ValidationError):
        endpoint.save()
    endpoint.refresh_from_db()
    assert endpoint.base_url == "http://127.0.0.1:9"


def test_bookkeeping_saves_still_work_after_the_host_became_production(server):
    endpoint = make_endpoint(server.url)
    with override_settings(PRODUCTION_HOSTS=["127.0.0.1"]):
        endpoint.enabled = False
        endpoint.save(update_fields=["enabled"])
    endpoint.refresh_from_db()
    assert endpoint.enabled is False


def test_the_client_refuses_a_host_that_became_production_after_saving(server):
    endpoint = make_endpoint(server.url)
    client = get_client(endpoint)

    with override_settings(PRODUCTION_HOSTS=["127.0.0.1"]):
        with pytest.raises(ProductionHostRefused) as refused:
            client.get("/status")
        with pytest.raises(ProductionHostRefused):
            get_client(endpoint).post("http://127.0.0.1:1/elsewhere", json={})

    assert refused.value.permanent is True
    assert server.hits() == []
    assert client.exchanges == []


def test_a_redirect_to_a_production_host_is_not_followed(server):
    target = f"http://localhost:{urlsplit(server.url).port}/landing"
    server.default("/jump", Reply(302, "", {"Location": target}))
    client = get_client(make_endpoint(server.url))

    with (
        override_settings(PRODUCTION_HOSTS=["localhost"]),
        pytest.raises(ProductionHostRefused),
    ):
        client.get("/jump", allow_redirects=True)

    assert [hit.path for hit in server.hits()] == ["/jump"]
