"""Settings, all from the environment.

The defaults make the *embedded* installation: SQLite under ``var/``, a Celery broker on the
filesystem, logs on the filesystem, the local executor. Production sets ``DATABASE_URL`` (PostgreSQL),
``CELERY_BROKER_URL`` (Redis), ``LOG_STORE=s3://bucket`` and real secrets; nothing else changes.
"""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env")

VAR_DIR = Path(env("DEVOPS_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

# The embedded default must run with no configuration at all; production overrides these.
SECRET_KEY = env("SECRET_KEY", default="embedded-insecure-change-me")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
PUBLIC_URL = env("PUBLIC_URL", default="http://127.0.0.1:8000")


def _default_fernet_key(secret: str) -> str:
    """Derive a key from SECRET_KEY so the embedded default encrypts without extra set-up."""
    return base64.urlsafe_b64encode(hashlib.sha256(("fernet:" + secret).encode()).digest()).decode()


# Comma-separated; the first encrypts, all decrypt (rotate by prepending a new key).
FERNET_KEYS = env.list("FERNET_KEYS", default=[_default_fernet_key(SECRET_KEY)])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "social_django",
    "devops.apps.DevopsConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Static files (admin, API docs, UI) from the app itself: the embedded default has no web server.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Sign-in failures (provider not enabled, state mismatch, refused code) become 4xx pages, not 500s.
    "social_django.middleware.SocialAuthExceptionMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'devops.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web process read while a runner writes; the timeout absorbs short write bursts.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)  # WhiteNoise warns at start-up when it is missing
# Without collectstatic (the embedded default, tests) WhiteNoise serves from the apps' folders.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# --- REST API -----------------------------------------------------------------------------------
REST_FRAMEWORK = {
    # Token first: an unauthenticated request then gets 401 with `WWW-Authenticate: Token`, not 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "devops.api.pagination.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "devops.api.errors.exception_handler",
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "devops API",
    "DESCRIPTION": "Projects, pipelines, executions and their logs. Authenticate with a session or "
    "`Authorization: Token <key>` (manage.py drf_create_token USER).",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "devops.api.schema.add_error_responses",
    ],
}

# --- Celery -------------------------------------------------------------------------------------
# The filesystem transport needs no server: the embedded default works on a bare machine.
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="filesystem://")
_BROKER_DIR = VAR_DIR / "broker"
if CELERY_BROKER_URL.startswith("filesystem"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_BROKER_DIR),
        "data_folder_out": str(_BROKER_DIR),
        "processed_folder": str(_BROKER_DIR / "processed"),
        "control_folder": str(_BROKER_DIR / "control"),
        "store_processed": False,
        "polling_interval": 0.02,
    }
else:
    # Tasks must finish (or be acknowledged) well inside the visibility timeout, or Redis redelivers.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600, "polling_interval": 0.1}
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_TASK_DEFAULT_QUEUE = "engine"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Celery's Django fixup closes the database connection around every task unless told to reuse it:
# a new PostgreSQL session per task cost ~8 ms on each hop of an execution (bench/engine.py). We
# reuse, and close_old_connections (config/celery.py) still honours CONN_MAX_AGE and health checks.
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=1000)
# django-celery-beat's DatabaseScheduler that also touches beat's heartbeat file (devops/ops/beat.py).
CELERY_BEAT_SCHEDULER = "devops.ops.beat:HeartbeatScheduler"
# Beat sleeps at most this long between passes of its loop: django-celery-beat's own default, explicit
# so that the beat probe's default age (BEAT_PROBE_MAX_AGE) follows it.
CELERY_BEAT_MAX_LOOP_INTERVAL = env.float("BEAT_MAX_LOOP_INTERVAL", default=5)
CELERY_TIMEZONE = TIME_ZONE

# --- Logs ---------------------------------------------------------------------------------------
LOG_STORE = env("LOG_STORE", default="filesystem")  # or s3://bucket
LOG_ROOT = Path(env("LOG_ROOT", default=str(VAR_DIR / "logs")))
LIVE_LOG = env("LIVE_LOG", default="filesystem")  # or redis://host:6379/1
LOG_SPOOL_DIR = Path(env("LOG_SPOOL_DIR", default=str(VAR_DIR / "logs-live")))
S3_ENDPOINT_URL = env("S3_ENDPOINT_URL", default="http://127.0.0.1:9000")
S3_ACCESS_KEY = env("S3_ACCESS_KEY", default="")
S3_SECRET_KEY = env("S3_SECRET_KEY", default="")
S3_REGION = env("S3_REGION", default=None)
LOG_RETENTION_DAYS = env.int("LOG_RETENTION_DAYS", default=90)

# --- Executors ----------------------------------------------------------------------------------
WORKSPACE_ROOT = Path(env("WORKSPACE_ROOT", default=str(VAR_DIR / "workspaces")))
WORKSPACE_RETENTION_HOURS = env.float("WORKSPACE_RETENTION_HOURS", default=24)
MIRROR_ROOT = Path(env("MIRROR_ROOT", default=str(VAR_DIR / "mirrors")))
DEFAULT_CACHE_ROOT = env(
    "DEFAULT_CACHE_ROOT",
    default="/var/lib/devops/cache" if os.access("/var/lib", os.W_OK) else str(VAR_DIR / "cache"),
)
LOCAL_REGISTRY = env("LOCAL_REGISTRY", default="127.0.0.1:5000")
RUNNER_HEARTBEAT_SECONDS = env.float("RUNNER_HEARTBEAT_SECONDS", default=1.0)
RUNNER_SILENCE_SECONDS = env.float("RUNNER_SILENCE_SECONDS", default=60)
# How long an admitted execution may wait for its runner before the safety net launches it again.
LAUNCH_RETRY_SECONDS = env.float("LAUNCH_RETRY_SECONDS", default=30)
# How often the pods of running Kubernetes executions are read (one list call per namespace).
KUBERNETES_SYNC_SECONDS = env.float("KUBERNETES_SYNC_SECONDS", default=2)
MAINTENANCE_INTERVAL_SECONDS = env.float("MAINTENANCE_INTERVAL_SECONDS", default=10)

# --- Triggers -----------------------------------------------------------------------------------
# Plain-git pipelines with polling on are checked with `git ls-remote` this often.
POLL_INTERVAL_SECONDS = env.float("POLL_INTERVAL_SECONDS", default=60)
# Provider webhook bodies above this are refused with 413 (GitHub caps its own at 25 MB).
WEBHOOK_MAX_BYTES = env.int("WEBHOOK_MAX_BYTES", default=5 * 1024 * 1024)
# A delivery still unprocessed after this long is enqueued again (its task was lost).
DELIVERY_RETRY_SECONDS = env.float("DELIVERY_RETRY_SECONDS", default=60)
# How long a web process reuses a pipeline's webhook secret and trigger switches between reads.
WEBHOOK_PIPELINE_CACHE_SECONDS = env.float("WEBHOOK_PIPELINE_CACHE_SECONDS", default=5)

# --- Sign-in with a source code provider (social-auth) -----------------------------------------------
# Client ids and secrets are NOT settings: each backend reads its enabled SourceCodeProviderConfig row
# per request (devops/scm/social.py), so providers are enabled in the admin without a restart.
AUTHENTICATION_BACKENDS = [
    "devops.scm.social.GithubBackend",
    "devops.scm.social.GitLabBackend",
    "devops.scm.social.BitbucketBackend",
    "django.contrib.auth.backends.ModelBackend",
]
SOCIAL_AUTH_URL_NAMESPACE = "social"
SOCIAL_AUTH_PIPELINE = (
    # social-core's default steps (no association by email: an address is not proof of identity) ...
    "social_core.pipeline.social_auth.social_details",
    "social_core.pipeline.social_auth.social_names",
    "social_core.pipeline.social_auth.social_uid",
    "social_core.pipeline.social_auth.auth_allowed",
    "social_core.pipeline.social_auth.social_user",
    "social_core.pipeline.user.get_username",
    "social_core.pipeline.user.create_user",
    "social_core.pipeline.social_auth.associate_user",
    "social_core.pipeline.social_auth.load_extra_data",
    "social_core.pipeline.user.user_details",
    # ... then keep the token (encrypted) as the user's credential and sync their repositories on commit.
    "devops.scm.social.store_credential",
)
# The web UI: pages that need a user send anonymous visitors to the sign-in page.
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/login/"
SOCIAL_AUTH_LOGIN_REDIRECT_URL = env("SOCIAL_AUTH_LOGIN_REDIRECT_URL", default="/")
SOCIAL_AUTH_REDIRECT_IS_HTTPS = env.bool("SOCIAL_AUTH_REDIRECT_IS_HTTPS", default=PUBLIC_URL.startswith("https://"))
# Failures are answered by the middleware with a 4xx page even when DEBUG is on.
SOCIAL_AUTH_RAISE_EXCEPTIONS = False

# --- Operations: probes, metrics, application logs (devops/ops/, docs/operations.md) ---------------
# /readyz waits this long at most; each dependency gets it as its connect/read timeout.
READYZ_TIMEOUT_SECONDS = env.float("READYZ_TIMEOUT_SECONDS", default=3)
# When set, /metrics answers only `Authorization: Bearer <METRICS_TOKEN>`.
METRICS_TOKEN = env("METRICS_TOKEN", default="")
# The duration histograms cover executions and steps that finished this long ago at most.
METRICS_WINDOW_SECONDS = env.float("METRICS_WINDOW_SECONDS", default=3600)
# A Celery worker serves its own counters (executor API errors) on this port when non-zero.
WORKER_METRICS_PORT = env.int("WORKER_METRICS_PORT", default=0)
# Workers touch VAR_DIR/heartbeats/<node name> this often; `manage.py workerprobe` reads its age.
WORKER_HEARTBEAT_SECONDS = env.float("WORKER_HEARTBEAT_SECONDS", default=10)
# Beat touches VAR_DIR/heartbeats/beat after every pass of its loop; `manage.py beatprobe` fails once the
# file is older than this. At least 60 s, so one slow pass (a slow database) does not cause restart loops.
BEAT_PROBE_MAX_AGE = env.float("BEAT_PROBE_MAX_AGE", default=max(60.0, 4 * CELERY_BEAT_MAX_LOOP_INTERVAL))
# text (the embedded default: plain messages) or json (one object per line with the execution,
# pipeline and project ids of the line, for a log collector). Both redact secret-looking values.
LOG_FORMAT = env("LOG_FORMAT", default="text")
if LOG_FORMAT not in ("text", "json"):
    raise ValueError(f"LOG_FORMAT must be text or json, got {LOG_FORMAT!r}")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "context": {"()": "devops.ops.logging.ContextFilter"},
        "redact": {"()": "devops.ops.logging.RedactFilter"},
    },
    "formatters": {"json": {"()": "devops.ops.logging.JsonFormatter"}, "text": {"format": "%(message)s"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["context", "redact"]}
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="WARNING")},
}
