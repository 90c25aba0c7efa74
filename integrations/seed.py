"""The endpoints a fresh install starts with: one per kind, on the simulators.

Each is SIMULATED and filled from ``integrations.simulators.fixtures``, so that
every probe and every workflow works with one click. Pointing one at the real
service is a change of URL and credentials in the admin.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from integrations.models import IntegrationEndpoint
from integrations.simulators import fixtures as fx


@dataclass
class SeedEndpoint:
    name: str
    kind: str
    path: str
    auth_type: str = IntegrationEndpoint.AuthType.NONE
    credentials: dict[str, str] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    health_path: str = ""
    timeout_seconds: int = 30
    startup_grace_seconds: int = 0
    rate_limit_per_minute: int = 120


def seed_endpoints(sim: str) -> list[SeedEndpoint]:
    """What ``manage.py seed`` creates for simulators listening at ``sim``."""
    sim = sim.rstrip("/")
    return [
        SeedEndpoint(
            name="Yunite (simulated)",
            kind="yunite",
            path="/yunite/api",
            auth_type=IntegrationEndpoint.AuthType.API_KEY,
            credentials={"api_token": fx.YUNITE_API_TOKEN},
            settings={
                "guild_id": fx.YUNITE_GUILD_ID,
                "test_users": {
                    "linked": fx.YUNITE_LINKED_DISCORD_ID,
                    "not_linked": fx.YUNITE_NOT_LINKED_DISCORD_ID,
                    "not_found": fx.YUNITE_NOT_FOUND_DISCORD_ID,
                    "expected_epic_id": fx.YUNITE_LINKED_EPIC_ID,
                },
            },
            rate_limit_per_minute=60,
        ),
        SeedEndpoint(
            name="Discord OAuth (simulated)",
            kind="discord",
            path="/discord/api",
            auth_type=IntegrationEndpoint.AuthType.OAUTH,
            credentials={
                "client_id": fx.DISCORD_CLIENT_ID,
                "client_secret": fx.DISCORD_CLIENT_SECRET,
            },
            settings={
                "guild_id": fx.DISCORD_GUILD_ID,
                "redirect_uri": fx.DISCORD_REDIRECT_URIS[0],
                "scope": "identify guilds",
                "authorize_url": f"{sim}/discord/oauth2/authorize",
            },
        ),
        SeedEndpoint(
            name="Banano node (simulated)",
            kind="banano",
            path="/banano/",
            settings={
                "operator_account": fx.BANANO_OPERATOR_ACCOUNT,
                "operator_wallet": fx.BANANO_OPERATOR_WALLET_ID,
                "min_balance_ban": fx.BANANO_MIN_OPERATOR_BALANCE_BAN,
                "expected_network": fx.BANANO_NETWORK,
                "recipient_account": fx.BANANO_RECIPIENT_ACCOUNT,
            },
            # A cold node is slow: PROTOCOLS.md allows it 60 s.
            timeout_seconds=60,
            startup_grace_seconds=120,
        ),
        SeedEndpoint(
            name="Payout wallet (simulated)",
            kind="wallet",
            path="/wallet/",
            settings={
                "wallet_id": fx.WALLET_OPERATOR_WALLET_ID,
                "operator_account": fx.BANANO_OPERATOR_ACCOUNT,
                "min_balance_ban": fx.BANANO_MIN_OPERATOR_BALANCE_BAN,
                "p2s_base_url": f"{sim}/p2s",
            },
        ),
        SeedEndpoint(
            name="Pay2Slay admin (simulated)",
            kind="admin",
            path="/p2s",
            auth_type=IntegrationEndpoint.AuthType.API_KEY,
            credentials={"admin_email": fx.P2S_ADMIN_EMAIL},
            settings={"fixture_hook_url": f"{sim}/_control/admin/admin_users"},
        ),
        SeedEndpoint(
            name="GitHub (simulated)",
            kind="github",
            path="/github",
            auth_type=IntegrationEndpoint.AuthType.BEARER_TOKEN,
            credentials={"token": fx.GITHUB_TOKEN},
            settings={"repo": fx.GITHUB_REPO},
            rate_limit_per_minute=60,
        ),
        SeedEndpoint(
            name="Generic HTTP (simulated)",
            kind="http",
            path="/http",
            health_path="/http/status",
        ),
    ]


def seed(sim: str, *, reset: bool = False) -> list[tuple[IntegrationEndpoint, str]]:
    """Create the seed endpoints that are missing (``reset``: overwrite them).

    Returns ``(endpoint, "created" | "reset" | "kept")`` pairs. Endpoints that
    exist are kept as they are, so that an operator's edits survive a restart.
    """
    outcome = []
    sim = sim.rstrip("/")
    for spec in seed_endpoints(sim):
        endpoint = IntegrationEndpoint.objects.filter(name=spec.name).first()
        if endpoint is not None and not reset:
            outcome.append((endpoint, "kept"))
            continue
        action = "reset" if endpoint else "created"
        endpoint = endpoint or IntegrationEndpoint(name=spec.name)
        endpoint.kind = spec.kind
        endpoint.mode = IntegrationEndpoint.Mode.SIMULATED
        endpoint.base_url = sim + spec.path
        endpoint.health_check_url = sim + spec.health_path if spec.health_path else ""
        endpoint.auth_type = spec.auth_type
        endpoint.settings = spec.settings
        endpoint.timeout_seconds = spec.timeout_seconds
        endpoint.startup_grace_seconds = spec.startup_grace_seconds
        endpoint.rate_limit_per_minute = spec.rate_limit_per_minute
        endpoint.set_credentials(spec.credentials or None)
        endpoint.full_clean()
        endpoint.save()
        outcome.append((endpoint, action))
    return outcome
