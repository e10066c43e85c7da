"""Callback Center settings: every value comes from the environment (a `.env` file is read if present)."""

from __future__ import annotations

import os
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# ENV_FILE names another settings file than the project's `.env` (the process environment wins).
environ.Env.read_env(env.str("ENV_FILE", default=str(BASE_DIR / ".env")), overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="insecure-development-key" if DEBUG else "")
if not SECRET_KEY:
    raise environ.ImproperlyConfigured("SECRET_KEY is not set: run `make run` once, or set it in .env")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "callbacks.admin_site.CallbackCenterAdminConfig",  # django.contrib.admin, branded
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "callbacks",  # before django_q: its `qcluster` command wraps django-q2's (prompt stops)
    "django_q",
    "axes",
    "csp",
    "alerts",
    "reports",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "callbacks.api.middleware.RequestGuardMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "config.content_security.ContentSecurityPolicyMiddleware",
    # Last, as django-axes asks: it turns a locked-out sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
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

# --- HTTPS and browser protections ----------------------------------------------------------------
# HTTPS=true (behind TLS) turns on each of these; each can still be set on its own.
HTTPS = env.bool("HTTPS", default=False)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=HTTPS)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=HTTPS)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=HTTPS)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=365 * 24 * 3600 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=HTTPS)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=HTTPS)
# Behind a TLS-terminating proxy: the header and value that mean "the client used https",
# e.g. HTTP_X_FORWARDED_PROTO,https. Only set it when the proxy always sets (or strips) that header.
_proxy_ssl_header = env.list("SECURE_PROXY_SSL_HEADER", default=[])
SECURE_PROXY_SSL_HEADER = tuple(_proxy_ssl_header) if len(_proxy_ssl_header) == 2 else None
if _proxy_ssl_header and SECURE_PROXY_SSL_HEADER is None:
    raise environ.ImproperlyConfigured(
        "SECURE_PROXY_SSL_HEADER is a header and a value, e.g. HTTP_X_FORWARDED_PROTO,https"
    )
SESSION_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# The screens load scripts, styles, fonts and images from this site only; no inline script runs.
# Inline style attributes stay allowed (Django's admin templates use them).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# --- Database -------------------------------------------------------------------------------
# Embedded default: SQLite in WAL mode. Immediate transactions take the write lock up front, so
# concurrent writers wait on the busy timeout instead of failing with "database is locked". Every
# commit waits for the disk (synchronous=FULL), but the dispatcher's bookkeeping (delivery/sql.py).
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASE_IS_SQLITE = DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3"
if DATABASE_IS_SQLITE:
    DATABASES["default"]["OPTIONS"] = {
        "timeout": env.int("SQLITE_BUSY_TIMEOUT_S", default=30),
        "transaction_mode": "IMMEDIATE",
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; "
            "PRAGMA temp_store=MEMORY; PRAGMA cache_size=-65536;"
        ),
    }
# Each web thread and worker keeps its connection between requests (SQLite too: opening one runs the
# init_command's pragmas every time).
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE_S", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# PostgreSQL: the ingest statement is prepared once per connection (off for a pooler that cannot keep
# prepared statements per client).
DATABASE_PREPARED_STATEMENTS = env.bool("DATABASE_PREPARED_STATEMENTS", default=True)
# Lets parallel test runs on one PostgreSQL server use test databases of their own.
if env.str("TEST_DATABASE_NAME", default=""):
    DATABASES["default"]["TEST"] = {"NAME": env.str("TEST_DATABASE_NAME")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Queue (django-q2) --------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
Q_CLUSTER = {
    "name": env.str("Q_CLUSTER_NAME", default="callback-center"),
    "workers": env.int("Q_WORKERS", default=2),
    "recycle": 500,
    "timeout": env.int("Q_TIMEOUT_S", default=300),
    "retry": env.int("Q_TIMEOUT_S", default=300) + 60,
    "max_attempts": 1,
    "ack_failures": True,
    "catch_up": False,
    "save_limit": env.int("Q_SAVE_LIMIT", default=1000),
    "poll": env.float("Q_POLL_S", default=0.2),
    "label": "Task queue",
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

# Shared by every process of the installation (the dispatcher's coalesced wake-up flag, throttling):
# Redis at scale, files on the one machine of the embedded setup.
# A Redis that does not answer (a partition, not a refusal) holds a request this long, not redis-py's 5 s.
REDIS_CONNECT_TIMEOUT_S = env.float("REDIS_CONNECT_TIMEOUT_S", default=1.0)
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": REDIS_CONNECT_TIMEOUT_S},
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": env.str("CACHE_DIR", default=str(BASE_DIR / ".cache")),
        }
    }

# --- Auth, i18n, static ---------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "admin:login"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # refuses sign-ins while locked out
    "django.contrib.auth.backends.ModelBackend",
]

# --- Client address and sign-in throttling ---------------------------------------------------------
# How many reverse proxies in front of the app append to X-Forwarded-For: 0 ignores the header.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
# django-axes: failed sign-ins counted per client address and, separately, per user name.
AXES_FAILURE_LIMIT = env.int("SIGNIN_FAILURE_LIMIT", default=10)
AXES_COOLOFF_TIME = env.float("SIGNIN_LOCKOUT_MINUTES", default=15) / 60  # hours, as django-axes takes it
AXES_LOCKOUT_PARAMETERS = ["ip_address", "username"]
AXES_CLIENT_IP_CALLABLE = "callbacks.client_address.client_address"
AXES_LOCKOUT_TEMPLATE = "admin/login_locked.html"
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
AXES_DISABLE_ACCESS_LOG = True  # failures only: successful sign-ins are not recorded

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- E-mail ---------------------------------------------------------------------------------------
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Callback Center <callbacks@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Secrets at rest --------------------------------------------------------------------------------
# Comma-separated Fernet keys: the first encrypts, all decrypt (put a new key first to rotate).
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[])

# --- Callbacks --------------------------------------------------------------------------------------
CALLBACKS_ALLOW_HTTP = env.bool("CALLBACKS_ALLOW_HTTP", default=DEBUG)
CALLBACKS_ALLOW_PRIVATE_NETWORKS = env.bool("CALLBACKS_ALLOW_PRIVATE_NETWORKS", default=DEBUG)
CALLBACKS_RETENTION_DAYS = env.int("CALLBACKS_RETENTION_DAYS", default=30)
# The way out (callbacks/delivery/send/egress.py): an HTTP proxy every callback goes through
# (http://[user:password@]host:port), and a PEM file of CAs trusted beside the system's.
CALLBACKS_EGRESS_PROXY = env.str("CALLBACKS_EGRESS_PROXY", default="")
CALLBACKS_CA_BUNDLE = env.str("CALLBACKS_CA_BUNDLE", default="")
# The delivery engine (callbacks/delivery/engine.py): requests in flight per worker, rows per claim, how long a
# claim is leased (longer than the slowest call), how long one dispatcher task runs and lingers idle.
CALLBACKS_DISPATCH_CONCURRENCY = env.int("CALLBACKS_DISPATCH_CONCURRENCY", default=100)
CALLBACKS_DISPATCH_BATCH_SIZE = env.int("CALLBACKS_DISPATCH_BATCH_SIZE", default=200)
CALLBACKS_LEASE_S = env.int("CALLBACKS_LEASE_S", default=300)
CALLBACKS_DISPATCH_BUDGET_S = env.int("CALLBACKS_DISPATCH_BUDGET_S", default=60)
CALLBACKS_DISPATCH_LINGER_S = env.float("CALLBACKS_DISPATCH_LINGER_S", default=2.0)
# On SIGTERM a cluster stops claiming, hands back what it has not sent and waits this long at most for
# the answers in flight: keep it under the orchestrator's grace period (Docker 10 s, Kubernetes 30 s).
CALLBACKS_STOP_GRACE_S = env.float("CALLBACKS_STOP_GRACE_S", default=10.0)
CALLBACKS_RETRY_AFTER_MAX_S = env.int("CALLBACKS_RETRY_AFTER_MAX_S", default=3600)
# A profile failing continuously this long, or with this many deliveries failed since its last
# success, turns abnormal (its deliveries are held until a connectivity test succeeds).
CALLBACKS_ABNORMAL_AFTER_S = env.int("CALLBACKS_ABNORMAL_AFTER_S", default=5 * 24 * 3600)
CALLBACKS_ABNORMAL_AFTER_EXHAUSTED = env.int("CALLBACKS_ABNORMAL_AFTER_EXHAUSTED", default=50)
# Quotas per account (an operator overrides any of them on the Account screen): callback profiles, profiles
# subscribed to one event type (the fan-out of an event), the size of a body template and of a profile's
# headers, events per second through the API, and deliveries per replay. A replay of more than
# CALLBACKS_REPLAY_INLINE_MAX deliveries runs as a background job.
CALLBACKS_QUOTA_PROFILES = env.int("CALLBACKS_QUOTA_PROFILES", default=100)
CALLBACKS_QUOTA_FANOUT = env.int("CALLBACKS_QUOTA_FANOUT", default=20)
CALLBACKS_QUOTA_TEMPLATE_BYTES = env.int("CALLBACKS_QUOTA_TEMPLATE_BYTES", default=16 * 1024)
CALLBACKS_QUOTA_HEADER_BYTES = env.int("CALLBACKS_QUOTA_HEADER_BYTES", default=8 * 1024)
CALLBACKS_QUOTA_EVENTS_PER_S = env.int("CALLBACKS_QUOTA_EVENTS_PER_S", default=500)
CALLBACKS_QUOTA_REPLAY = env.int("CALLBACKS_QUOTA_REPLAY", default=50_000)
CALLBACKS_REPLAY_INLINE_MAX = env.int("CALLBACKS_REPLAY_INLINE_MAX", default=1000)

# --- Telegram -------------------------------------------------------------------------------------
TELEGRAM_BOT_TOKEN = env.str("TELEGRAM_BOT_TOKEN", default="")
TELEGRAM_BOT_USERNAME = env.str("TELEGRAM_BOT_USERNAME", default="")
TELEGRAM_WEBHOOK_SECRET = env.str("TELEGRAM_WEBHOOK_SECRET", default="")
# The Bot API's address; tests point it at a fake server on 127.0.0.1.
TELEGRAM_API_BASE_URL = env.str("TELEGRAM_API_BASE_URL", default="")

# --- API ------------------------------------------------------------------------------------------
# The largest request body any endpoint reads (413 above it); events have their own, smaller limit.
API_MAX_BODY_BYTES = env.int("API_MAX_BODY_BYTES", default=1024 * 1024)
# Django reads admin form bodies up to this; the API parses its own.
DATA_UPLOAD_MAX_MEMORY_SIZE = max(API_MAX_BODY_BYTES, 2_621_440)
# How long a web process trusts an API key it has read: a revoked key stops working at once in the
# process that revoked it and within this many seconds in the others (0: read the key on every request).
API_KEY_CACHE_S = env.float("API_KEY_CACHE_S", default=5.0)
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["callbacks.api.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": [
        "callbacks.api.permissions.HasAccountScope",
        "callbacks.api.permissions.QueryTextStorable",
    ],
    "DEFAULT_PAGINATION_CLASS": "callbacks.api.pagination.BoundedLimitOffsetPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["callbacks.api.parsers.BoundedJSONParser"],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "EXCEPTION_HANDLER": "callbacks.api.errors.exception_handler",
    "DEFAULT_THROTTLE_RATES": {"auth_failure": env.str("API_AUTH_FAILURE_RATE", default="20/min")},
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Callback Center API",
    "DESCRIPTION": "Configure callback profiles, ingest events and read the delivery log.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "callbacks.api.schema.error_responses_document",
    ],
    "ENUM_NAME_OVERRIDES": {
        "ReportFrequencyEnum": "reports.models.Frequency",
        "ReplayStateEnum": "callbacks.services.replays.REPLAYABLE_STATES",
        "ProfileStatusEnum": "callbacks.models.CallbackProfile.Status",
        "DeliveryStateEnum": "callbacks.models.Delivery.State",
    },
}

# --- Metrics --------------------------------------------------------------------------------------
# `/metrics` answers only with `Authorization: Bearer <METRICS_TOKEN>` (404 while it is unset). Every
# process of one machine writes its counts to files in this folder and a scrape adds them up; it must
# be set before prometheus-client is first imported, hence here, and empty when the machine starts.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
PROMETHEUS_MULTIPROC_DIR = env.str("PROMETHEUS_MULTIPROC_DIR", default=str(BASE_DIR / ".metrics"))
os.environ["PROMETHEUS_MULTIPROC_DIR"] = PROMETHEUS_MULTIPROC_DIR
Path(PROMETHEUS_MULTIPROC_DIR).mkdir(parents=True, exist_ok=True)

# --- Logging --------------------------------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
