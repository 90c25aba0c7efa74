"""The github kind's health check against the simulator."""

from __future__ import annotations

import pytest

from integrations.kinds.base import probe_class
from integrations.models import IntegrationEndpoint
from integrations.simulators import fixtures as fx


def check(sim, *, token=fx.GITHUB_TOKEN, repo=fx.GITHUB_REPO, timeout=2, **extra):
    endpoint = IntegrationEndpoint(
        name="github-sim",
        kind="github",
        base_url=sim.api_url,
        timeout_seconds=timeout,
        settings={"repo": repo},
        **extra,
    )
    endpoint.set_credentials({"token": token})
    return probe_class("github")(endpoint, None).check()


@pytest.mark.django_db
def test_a_reachable_repository_with_issues_and_budget_is_healthy(github_sim):
    result = check(github_sim)
    assert result.status == "HEALTHY", result
    assert result.status_code == 200
    assert result.metadata["rate_limit"]["remaining"] > 0
    assert result.metadata["has_issues"] is True


@pytest.mark.django_db
def test_a_spent_budget_is_degraded(github_sim):
    github_sim.faults(primary_exhausted={"reset_in": 60})
    result = check(github_sim)
    assert result.status == "DEGRADED", result


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"token": "ghp_nope"}, "401"),
        ({"repo": "pay2slay/nothing-here"}, "404"),
        ({"repo": fx.GITHUB_ISSUES_DISABLED_REPO}, "has_issues false"),
    ],
    ids=["bad-token", "missing-repo", "issues-disabled"],
)
def test_configuration_problems_are_unhealthy(github_sim, kwargs, fragment):
    result = check(github_sim, **kwargs)
    assert result.status == "UNHEALTHY", result
    assert fragment in result.error_message


@pytest.mark.django_db
def test_a_hanging_github_is_a_timeout(github_sim):
    github_sim.faults(hang=True)
    result = check(github_sim, timeout=1)
    assert result.status == "TIMEOUT", result


@pytest.mark.django_db
def test_a_dropped_connection_is_unhealthy(github_sim):
    github_sim.faults(outage=True)
    assert check(github_sim).status == "UNHEALTHY"
