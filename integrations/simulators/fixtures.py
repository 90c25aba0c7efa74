"""Seeded identities, tokens and ids of the simulators.

Every simulator seeds its state from these constants, and the seed command and
the tests use the same names, so the three always agree. Identities line up
across services: the Discord member is the Yunite-linked user and a Pay2Slay
user; the operator account lives in both the node wallet and the Pippin wallet.
"""

from __future__ import annotations

from integrations.simulators.banano_codec import RAW_PER_BAN

# --- Discord ------------------------------------------------------------------

DISCORD_CLIENT_ID = "1208355813421154304"
DISCORD_CLIENT_SECRET = "sim-discord-secret-7d3f0c9a2b1e4f58"
DISCORD_APPLICATION_NAME = "Pay2Slay Testenv (sim)"
DISCORD_APPLICATION_VERIFY_KEY = (
    "3c8d2f0e5b7a9c1d4e6f8a0b2c4d6e8f0a1b3c5d7e9f1a3b5c7d9e1f3a5b7c9d"
)
DISCORD_REDIRECT_URIS = (
    "http://127.0.0.1:8000/testing/oauth/callback",
    "http://localhost/callback",
    "http://127.0.0.1:8000/auth/discord/callback",
    "http://localhost:8000/auth/discord/callback",
)
DISCORD_CODE_TTL_SECONDS = 100.0
DISCORD_TOKEN_EXPIRES_IN = 604800

DISCORD_GUILD_ID = "1101234567890123456"
DISCORD_GUILD_NAME = "Pay2Slay"
# Other guilds the member belongs to, so paging through /users/@me/guilds has work.
DISCORD_OTHER_GUILDS = (
    ("1001234567890120001", "Banano"),
    ("1001234567890120002", "Fortnite Creators"),
    ("1201234567890120003", "Testenv Lab"),
)

DISCORD_MEMBER_USER_ID = "402183745162739713"
DISCORD_MEMBER_USERNAME = "slayer_one"
DISCORD_MEMBER_GLOBAL_NAME = "Slayer One"
DISCORD_MEMBER_EMAIL = "slayer.one@example.org"

DISCORD_UNLINKED_MEMBER_USER_ID = "402183745162739714"
DISCORD_UNLINKED_MEMBER_USERNAME = "no_epic_yet"

DISCORD_NON_MEMBER_USER_ID = "402183745162739715"
DISCORD_NON_MEMBER_USERNAME = "outsider"

DISCORD_SLOW_USER_ID = "402183745162739716"
DISCORD_SLOW_USERNAME = "slow_poke"

DISCORD_ADMIN_USER_ID = "402183745162739717"
DISCORD_ADMIN_USERNAME = "p2s_owner"

# The user who "consents" on the authorize page unless ``sim_user`` says otherwise.
DISCORD_DEFAULT_CONSENT_USER_ID = DISCORD_MEMBER_USER_ID

# --- Yunite -------------------------------------------------------------------

YUNITE_API_TOKEN = "sim-yunite-token-3c1f5e0b9a7d4c2e"
YUNITE_APP_ID = "65f0c0ffee0000000000a001"
YUNITE_APP_NAME = "Pay2Slay (sim)"
YUNITE_APP_OWNER_ID = DISCORD_ADMIN_USER_ID

YUNITE_GUILD_ID = DISCORD_GUILD_ID
# Authorized with READ_REGISTRATION but the guild has no active Premium: 402.
YUNITE_NO_PREMIUM_GUILD_ID = "1101234567890123457"
# Authorized, but without READ_REGISTRATION: 403.
YUNITE_NO_PERMISSION_GUILD_ID = "1101234567890123458"
# Never authorized the app: 403 (and absent from /v3/app).
YUNITE_UNAUTHORIZED_GUILD_ID = "1101234567890123459"

YUNITE_LINKED_DISCORD_ID = DISCORD_MEMBER_USER_ID
YUNITE_LINKED_EPIC_ID = "3f1c9a7e5b2d4c6e8a0b1c2d3e4f5a6b"
YUNITE_LINKED_EPIC_NAME = "SlayerOne"
YUNITE_NOT_LINKED_DISCORD_ID = DISCORD_UNLINKED_MEMBER_USER_ID
YUNITE_NOT_FOUND_DISCORD_ID = DISCORD_NON_MEMBER_USER_ID
YUNITE_SLOW_DISCORD_ID = DISCORD_SLOW_USER_ID
YUNITE_SLOW_EPIC_ID = "7b2e4d6f8a0c1e3f5a7b9c0d2e4f6a8b"
YUNITE_SLOW_EPIC_NAME = "SlowPoke"
YUNITE_SLOW_DELAY_SECONDS = 5.0
YUNITE_ADMIN_DISCORD_ID = DISCORD_ADMIN_USER_ID
YUNITE_ADMIN_EPIC_ID = "c0ffee00c0ffee00c0ffee00c0ffee00"
YUNITE_ADMIN_EPIC_NAME = "P2SOwner"

# --- Banano node --------------------------------------------------------------

BANANO_NETWORK = "live"
BANANO_NODE_VENDOR = "Banano V28.1"
BANANO_MIN_OPERATOR_BALANCE_BAN = 50
# Blocks the simulated network had before our seeded ones (block_count realism).
BANANO_NETWORK_BASE_BLOCK_COUNT = 28_417_305

BANANO_OPERATOR_WALLET_ID = (
    "020CB34D229FA19EEF8C6775CA62AE00D4708BF70494C1149F0F92013B7EE605"
)
BANANO_OPERATOR_PUBLIC_KEY = (
    "23034B109E90CBF8CBE566FCB958744E73D653CA69F153A2568F17D85496C4F0"
)
BANANO_OPERATOR_ACCOUNT = (
    "ban_1ar5beabx68dz57ycsqwq7e9ammmtsbwnthjcgj7f5rqu3cbfj9inpcutfjg"
)
BANANO_OPERATOR_BALANCE_RAW = 1000 * RAW_PER_BAN
# A donation waiting to be received by the operator (1.5 BAN from the donor).
BANANO_OPERATOR_RECEIVABLE_RAW = 15 * RAW_PER_BAN // 10

BANANO_RECIPIENT_ACCOUNT = (
    "ban_159jc1nae67tpebk5mygwzt5ekgmbcyhsoqxgyr3868aky49nx5qbm9k6w6n"
)
BANANO_RECIPIENT_BALANCE_RAW = 1 * RAW_PER_BAN
BANANO_SECOND_RECIPIENT_ACCOUNT = (
    "ban_39u3khybx8wt1t3nt7hwy11pug65n4fkzh4858aepuy4xub7rsm8u6ij47e4"
)
BANANO_SECOND_RECIPIENT_BALANCE_RAW = 0
# Valid checksum, never opened: account_info answers "Account not found".
BANANO_UNOPENED_ACCOUNT = (
    "ban_1tzksp7fyc1atuz7itpgx4kcqm6rkkwuw87ntqdniosta7seueac753bh89b"
)
BANANO_BURN_ACCOUNT = "ban_1burnbabyburndiscoinferno111111111111111111111111111aj49sw3w"
# The recipient with its last checksum character changed.
BANANO_INVALID_CHECKSUM_ACCOUNT = (
    "ban_159jc1nae67tpebk5mygwzt5ekgmbcyhsoqxgyr3868aky49nx5qbm9k6w6m"
)
NANO_EXAMPLE_ACCOUNT = (
    "nano_3t6k35gi95xu6tergt6p69ck76ogmitsa8mnijtpxm9fkcm736xtoncuohr3"
)

BANANO_LOCKED_WALLET_ID = (
    "47E760932C39D7E5FAF4F7D57BD0FCC85EAAD4068E9A65F5F66B30D83657846A"
)
BANANO_LOCKED_WALLET_PASSWORD = "sim-locked-wallet-password"
BANANO_LOCKED_ACCOUNT = (
    "ban_1j7exc97okgidzq17omzw96tukyjmbz1kwek3ycih9mgka5as9hhe1ck1feu"
)
BANANO_LOCKED_BALANCE_RAW = 100 * RAW_PER_BAN

BANANO_LOW_BALANCE_WALLET_ID = (
    "231949DFCD7D2BED675121B62756A5BCC25A0495E7513A28298966C500242893"
)
BANANO_LOW_BALANCE_ACCOUNT = (
    "ban_1k9z8sobjbcoaur86tp4x3zp8opj95nwoacm1kzbatuwds6yi1pm91shey93"
)
BANANO_LOW_BALANCE_RAW = 125 * RAW_PER_BAN // 10

# Funds every seeded account; in no wallet.
BANANO_FAUCET_ACCOUNT = (
    "ban_3frqzjg4jtqmarm8moucj1gay9gk376rori81hd9pwax8zc8foqnduanbecn"
)
BANANO_FAUCET_BALANCE_RAW = 3_400_000_000 * RAW_PER_BAN
BANANO_DONOR_ACCOUNT = (
    "ban_1jjd9snspq5ome84wuxcir9si9cnfz9hcgnxb8p8hm1jm9ss6bbh8pdsi6oh"
)
BANANO_REPRESENTATIVE = (
    "ban_3qo6qr4aa3x1e3onz16i1tre1rbybhqk7mi6hx4owa41f9yc9czbs97hff6e"
)

# --- Pippin-style wallet RPC --------------------------------------------------

WALLET_OPERATOR_WALLET_ID = "b1f0a7c2-5d4e-4f3a-9c1b-2e8d7f6a5b40"
WALLET_LOCKED_WALLET_ID = "c2e1b8d3-6f5a-4b4c-8d2e-3f9a8b7c6d51"
WALLET_LOCKED_WALLET_PASSWORD = "sim-pippin-locked-password"

# --- Pay2Slay app (admin API and wallet links) ---------------------------------

P2S_SESSION_COOKIE = "p2s_session"
P2S_ADMIN_COOKIE = "p2s_admin"
P2S_ADMIN_EMAIL = "admin@example.org"
P2S_INACTIVE_ADMIN_EMAIL = "former-admin@example.org"
P2S_ADMIN_DISCORD_USERNAMES = (DISCORD_ADMIN_USERNAME,)
P2S_OPERATOR_SEED_SET_BY = P2S_ADMIN_EMAIL
# Pay2Slay users: (discord_id, discord_username, epic_id or None).
P2S_USERS = (
    (DISCORD_MEMBER_USER_ID, DISCORD_MEMBER_USERNAME, YUNITE_LINKED_EPIC_ID),
    (DISCORD_UNLINKED_MEMBER_USER_ID, DISCORD_UNLINKED_MEMBER_USERNAME, None),
    (DISCORD_ADMIN_USER_ID, DISCORD_ADMIN_USERNAME, YUNITE_ADMIN_EPIC_ID),
)
P2S_MEMBER_WALLET_ADDRESS = BANANO_SECOND_RECIPIENT_ACCOUNT
# A failed payout that /admin/payouts/retry can send, and one already sent.
P2S_FAILED_PAYOUT_ID = 101
P2S_FAILED_PAYOUT_AMOUNT_RAW = 5 * RAW_PER_BAN // 100
P2S_SENT_PAYOUT_ID = 100
P2S_SENT_PAYOUT_TX_HASH = (
    "9A3D5C7E1B2F4A6C8E0D1F3A5B7C9E1D3F5A7B9C1E3D5F7A9B1C3E5D7F9A1B3C"
)
P2S_DEFAULT_PAYOUT_CONFIG = {
    "ban_per_kill": 0.05,
    "daily_payout_cap": 10,
    "weekly_payout_cap": 50,
    "min_payout_ban": 1.0,
}

# --- GitHub REST --------------------------------------------------------------

GITHUB_TOKEN = "ghp_SimTestenvToken000000000000000000001"
# Authenticates, but has no push access: labels and assignees are dropped.
GITHUB_READONLY_TOKEN = "ghp_SimTestenvReadOnly0000000000000000002"
GITHUB_USER_LOGIN = "testenv-bot"
GITHUB_USER_ID = 190000001
GITHUB_READONLY_USER_LOGIN = "testenv-reader"
GITHUB_READONLY_USER_ID = 190000002
GITHUB_MAINTAINER_LOGIN = "pay2slay-maintainer"
GITHUB_MAINTAINER_ID = 190000003
GITHUB_OWNER = "pay2slay"
GITHUB_OWNER_ID = 180000001
GITHUB_REPO_NAME = "pay2slay2"
GITHUB_REPO = f"{GITHUB_OWNER}/{GITHUB_REPO_NAME}"
GITHUB_REPO_ID = 700000001
GITHUB_ISSUES_DISABLED_REPO = f"{GITHUB_OWNER}/pay2slay-archive"
GITHUB_ISSUES_DISABLED_REPO_ID = 700000002
GITHUB_WEBHOOK_SECRET = "sim-github-webhook-secret"
GITHUB_RATE_LIMIT = 5000
GITHUB_SEARCH_RATE_LIMIT = 30
GITHUB_SEED_LABELS = (
    ("bug", "d73a4a", "Something isn't working"),
    ("enhancement", "a2eeef", "New feature or request"),
    ("feedback", "0e8a16", "Filed from testenv feedback"),
)
# Issues already in the repo: (title, body, state, labels). New issues start at 3.
GITHUB_SEED_ISSUES = (
    ("Payout stuck in pending", "Seen on the staging faucet.", "open", ("bug",)),
    ("Leaderboard sorts by name", "Fixed in 0.4.", "closed", ("bug",)),
)
