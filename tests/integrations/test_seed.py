"""A fresh install works with one click: every seeded probe is HEALTHY and every
workflow PASSES with no test data, against the simulators over real sockets."""

from __future__ import annotations

import pytest

from integrations.http import get_client
from integrations.kinds.base import probe_class, workflow_class, workflow_names
from integrations.models import IntegrationEndpoint
from integrations.seed import seed
from integrations.simulators.server import SimulatorServer
from integrations.workflows import run_workflow

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def simulator():
    server = SimulatorServer().start()
    yield server
    server.stop()


@pytest.fixture
def seeded(simulator):
    simulator.reset()
    return {endpoint.kind: endpoint for endpoint, _ in seed(simulator.url)}


def test_the_seed_creates_one_simulated_endpoint_per_kind(seeded):
    assert sorted(seeded) == sorted(
        ["yunite", "discord", "banano", "wallet", "admin", "github", "http"]
    )
    assert {e.mode for e in seeded.values()} == {"SIMULATED"}


def test_seeding_again_keeps_an_operators_edits(simulator, seeded):
    endpoint = seeded["yunite"]
    endpoint.timeout_seconds = 5
    endpoint.save()
    again = dict((e.kind, action) for e, action in seed(simulator.url))
    assert set(again.values()) == {"kept"}
    endpoint.refresh_from_db()
    assert endpoint.timeout_seconds == 5
    seed(simulator.url, reset=True)
    endpoint.refresh_from_db()
    assert endpoint.timeout_seconds == 30
    assert IntegrationEndpoint.objects.count() == 7


@pytest.mark.parametrize(
    "kind", ["yunite", "discord", "banano", "wallet", "admin", "github", "http"]
)
def test_every_seeded_probe_is_healthy(seeded, kind):
    endpoint = seeded[kind]
    result = probe_class(kind)(endpoint, get_client(endpoint)).check()
    assert result.status == "HEALTHY", (result.error_message, result.metadata)


@pytest.mark.parametrize("name", workflow_names())
def test_every_workflow_passes_with_the_seeded_test_identities(seeded, name):
    cls = workflow_class(name)
    endpoint = next(seeded[kind] for kind in cls.kinds if kind in seeded)
    outcome = run_workflow(
        endpoint=endpoint,
        name=name,
        test_data=None,
        session_id=None,
        configuration={},
    )
    failed = [a for a in outcome.assertions if not a["passed"]]
    assert outcome.status == "PASSED", (outcome.error_details, failed)
