"""Django settings for Persona Studio, read from environment variables.

Safe defaults for local use (DEBUG on, SQLite under var/, a development encryption key derived from
SECRET_KEY). With DEBUG=0 the settings become production settings: a real SECRET_KEY and
FIELD_ENCRYPTION_KEYS are required, and `manage.py check --deploy` reports nothing.
Wiring only: no business logic here.
"""

from __future__ import annotations

import base64
import hashlib
import os
import tempfile
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from dashboard.email_url import parse_email_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw else default


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if not raw:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


DEBUG = env_bool("DEBUG", True)

_DEV_SECRET_KEY = "dev-only-insecure-secret-key-change-me-for-any-shared-deployment"
SECRET_KEY = os.environ.get("SECRET_KEY") or ""
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = _DEV_SECRET_KEY

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "axes",
    "csp",
    # Background tasks: Django's Tasks API (backport) and its database backend (see TASKS).
    "django_tasks",
    "django_tasks_db",
    "personas_app",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "personas_app.middleware.RequestIdMiddleware",
    "personas_app.middleware.WorkspaceAccessMiddleware",
    # Last, as django-axes asks: it turns a refused login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "dashboard.urls"
WSGI_APPLICATION = "dashboard.wsgi.application"

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
                "personas_app.context_processors.navigation",
                "personas_app.sso.login_context",
                "personas_app.context_processors.notifications",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'db.sqlite3'}",
        conn_max_age=env_int("DB_CONN_MAX_AGE", 60),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers proceed while one writer commits; the timeout rides out brief locks.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # Tests use a file (one per test run), not Django's default in-memory database: the browser
    # tests' live server then gives each request thread its own connection, as production does,
    # instead of sharing the tests' one connection between concurrent requests, which break it now
    # that every request writes its session (SESSION_SAVE_EVERY_REQUEST).
    DATABASES["default"]["TEST"] = {
        "NAME": str(Path(tempfile.gettempdir()) / f"persona-studio-test-{os.getpid()}.sqlite3")
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# django-axes counts failed logins; its backend must come first (it refuses locked-out logins).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "personas:home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
# The dashboard speaks English only. Off, Django skips its translation machinery, which every
# rendered value goes through (about a thousand look-ups on a 50-row audit page).
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
if DEBUG:
    # Local runs keep the SQLite database and collected static files under var/.
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "persona-studio",
    }
}
if os.environ.get("CACHE_URL", "").startswith("redis://"):
    CACHES["default"] = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": os.environ["CACHE_URL"],
    }

# Sessions live in the database (they survive restarts). They are read through the cache only when
# the cache is shared (Redis): with the per-process LocMemCache, a session logged out in one gunicorn
# worker would stay valid in the others' caches until it expires.
SESSION_ENGINE = (
    "django.contrib.sessions.backends.cached_db"
    if CACHES["default"]["BACKEND"].endswith("RedisCache")
    else "django.contrib.sessions.backends.db"
)
# An idle timeout: every answered request saves the session and so pushes its expiry
# SESSION_IDLE_TIMEOUT_HOURS ahead; a session left unused that long is over.
SESSION_IDLE_TIMEOUT_HOURS = env_int("SESSION_IDLE_TIMEOUT_HOURS", 12)
SESSION_COOKIE_AGE = SESSION_IDLE_TIMEOUT_HOURS * 3600
SESSION_SAVE_EVERY_REQUEST = True

# --- Tavus -----------------------------------------------------------------------------------------
TAVUS_API_BASE_URL = os.environ.get("TAVUS_API_BASE_URL", "https://tavusapi.com").rstrip("/")
# How long a page waits for Tavus. A read timeout is never retried, so a hanging Tavus costs a page
# one TAVUS_TIMEOUT_READ; fast failures (no connection, 429/502/503/504) are tried again up to
# TAVUS_RETRIES times, waiting at most TAVUS_RETRY_WAIT_MAX seconds each (Retry-After included).
# Writes are tried again only when the connection could not be made (nothing was sent).
TAVUS_TIMEOUT_CONNECT = float(os.environ.get("TAVUS_TIMEOUT_CONNECT", "3.05"))
TAVUS_TIMEOUT_READ = float(os.environ.get("TAVUS_TIMEOUT_READ", "10"))
TAVUS_RETRIES = env_int("TAVUS_RETRIES", 2)
TAVUS_RETRY_WAIT_MAX = float(os.environ.get("TAVUS_RETRY_WAIT_MAX", "2"))
# At most this many requests to Tavus in flight per workspace from background work (change sets
# applied by the task workers; the reads of a change set being prepared).
TAVUS_MAX_CONCURRENCY = max(1, env_int("TAVUS_MAX_CONCURRENCY", 4))
# How long replica and document pickers are cached per workspace (seconds).
TAVUS_PICKER_CACHE_SECONDS = env_int("TAVUS_PICKER_CACHE_SECONDS", 120)
# The Tavus API addresses a workspace may use (comma-separated). Any other address is refused in
# the workspace settings, and no key is ever sent to it. In DEBUG the local emulator's loopback
# addresses are allowed too (`make run`, tests).
TAVUS_ALLOWED_BASE_URLS = [
    url.rstrip("/") for url in env_list("TAVUS_ALLOWED_BASE_URLS", [TAVUS_API_BASE_URL])
]
TAVUS_ALLOW_LOOPBACK = env_bool("TAVUS_ALLOW_LOOPBACK", DEBUG)

# The editor's state (the persona a page started from, secrets masked, signed) is refused after
# this many hours, on another page, or for another user.
EDITOR_STATE_MAX_AGE_HOURS = env_int("EDITOR_STATE_MAX_AGE_HOURS", 12)
EDITOR_STATE_MAX_BYTES = env_int("EDITOR_STATE_MAX_BYTES", 1_000_000)
# The largest persona JSON a person may import (a file or pasted text), in bytes.
MAX_IMPORT_BYTES = env_int("MAX_IMPORT_BYTES", 2 * 1024 * 1024)


def _dev_encryption_key(secret: str) -> str:
    digest = hashlib.sha256(("field-encryption:" + secret).encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()


# Comma-separated Fernet keys: the first encrypts, all decrypt (rotation without downtime).
FIELD_ENCRYPTION_KEYS = env_list("FIELD_ENCRYPTION_KEYS", [])
if not FIELD_ENCRYPTION_KEYS:
    if not DEBUG:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS must be set when DEBUG is off.")
    FIELD_ENCRYPTION_KEYS = [_dev_encryption_key(SECRET_KEY)]

# --- Background tasks (django-tasks with django-tasks-db) ------------------------------------------
# Tasks are rows in this database; `manage.py db_worker` runs them (`make run` starts one). Several
# workers, on several machines, may share one PostgreSQL database: each task is claimed by one.
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}

# --- Security (production defaults when DEBUG is off) ----------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", True)
    CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- Login throttling (django-axes) ----------------------------------------------------------------
# AXES_FAILURE_LIMIT failed logins lock the username, and separately the client address, for
# LOGIN_LOCKOUT_MINUTES (a further failure while locked starts the wait again). Both login pages
# (/accounts/login/ and /admin/) are covered; `manage.py axes_reset` lifts every lock.
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_LOCKOUT_MINUTES", 15))
# The address is REMOTE_ADDR. Behind a reverse proxy that is the proxy's own address, shared by
# everyone: LOGIN_LOCK_ADDRESS=0 then locks usernames only, so one person's typos lock no one else.
AXES_LOCKOUT_PARAMETERS = (
    ["username", "ip_address"] if env_bool("LOGIN_LOCK_ADDRESS", True) else ["username"]
)
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"

# --- Single sign-on (OpenID Connect, mozilla-django-oidc) -----------------------------------------
# Off unless OIDC_ISSUER and OIDC_CLIENT_ID are set. The provider's endpoints come from
# <OIDC_ISSUER>/.well-known/openid-configuration, read when someone first signs in (then cached for
# an hour), so a provider that is down never stops the server or the local logins.
# The OIDC_RP_* names are the ones mozilla-django-oidc reads.
OIDC_ISSUER = os.environ.get("OIDC_ISSUER", "").strip().rstrip("/")
OIDC_RP_CLIENT_ID = os.environ.get("OIDC_CLIENT_ID", "")
OIDC_RP_CLIENT_SECRET = os.environ.get("OIDC_CLIENT_SECRET", "")
OIDC_RP_SCOPES = os.environ.get("OIDC_SCOPES", "openid email profile")
# RS256/ES256: the ID token is checked against the provider's published keys (jwks_uri);
# HS256: against the client secret.
OIDC_RP_SIGN_ALGO = os.environ.get("OIDC_SIGN_ALGO", "RS256")
OIDC_PROVIDER_NAME = os.environ.get("OIDC_PROVIDER_NAME", "single sign-on")
OIDC_GROUPS_CLAIM = os.environ.get("OIDC_GROUPS_CLAIM", "groups")


def parse_group_roles(entries: list[str]) -> list[tuple[str, str, str]]:
    """OIDC_GROUP_ROLES entries, group=workspace-slug:role, as (group, slug, role) triples."""
    roles = ("viewer", "editor", "reviewer", "admin")  # personas_app.models.Role's values
    triples = []
    for entry in entries:
        group, _, target = entry.partition("=")
        slug, _, role = target.partition(":")
        group, slug, role = group.strip(), slug.strip(), role.strip().lower()
        if not (group and slug and role in roles):
            raise ImproperlyConfigured(
                f"OIDC_GROUP_ROLES: “{entry}” is not group=workspace:role "
                f"(a role is one of {', '.join(roles)})."
            )
        triples.append((group, slug, role))
    return triples


# Provider groups mapped to workspace roles, comma-separated group=workspace-slug:role entries:
# staging-editors=staging:editor,prod-admins=production:admin
OIDC_GROUP_ROLES = parse_group_roles(env_list("OIDC_GROUP_ROLES", []))
# Endpoints set here win over discovery (for a provider without a discovery document).
OIDC_OP_AUTHORIZATION_ENDPOINT = os.environ.get("OIDC_AUTHORIZATION_ENDPOINT", "")
OIDC_OP_TOKEN_ENDPOINT = os.environ.get("OIDC_TOKEN_ENDPOINT", "")
OIDC_OP_USER_ENDPOINT = os.environ.get("OIDC_USERINFO_ENDPOINT", "")
OIDC_OP_JWKS_ENDPOINT = os.environ.get("OIDC_JWKS_ENDPOINT", "")
OIDC_USE_PKCE = True
OIDC_TIMEOUT = (
    float(os.environ.get("OIDC_TIMEOUT_CONNECT", "3.05")),
    float(os.environ.get("OIDC_TIMEOUT_READ", "10")),
)
if OIDC_ISSUER and not DEBUG and not OIDC_ISSUER.startswith("https://"):
    raise ImproperlyConfigured("OIDC_ISSUER must be an https:// address when DEBUG is off.")
if OIDC_ISSUER and OIDC_RP_CLIENT_ID:
    AUTHENTICATION_BACKENDS.append("personas_app.sso.SingleSignOnBackend")
# --- Email (invitations, password reset, notifications) -------------------------------------------
# EMAIL_URL says how mail leaves (dashboard/email_url.py): console:// (the default) prints it,
# smtp://user:password@host:587?tls=1 sends it. Links in emails start with SITE_URL when set
# (e.g. https://studio.example.com), otherwise with the address the admin's request used.
_EMAIL = parse_email_url(os.environ.get("EMAIL_URL") or "console://")
EMAIL_BACKEND = _EMAIL.backend
EMAIL_HOST = _EMAIL.host
EMAIL_PORT = _EMAIL.port
EMAIL_HOST_USER = _EMAIL.user
EMAIL_HOST_PASSWORD = _EMAIL.password
EMAIL_USE_TLS = _EMAIL.use_tls
EMAIL_USE_SSL = _EMAIL.use_ssl
EMAIL_FILE_PATH = _EMAIL.file_path or str(VAR_DIR / "emails")
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL") or "Persona Studio <noreply@localhost>"
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Notification emails are sent by the task workers, with no request to take an address from: set
# SITE_URL in production (they fall back to http://localhost:8000, right for `make run` only).
SITE_URL = os.environ.get("SITE_URL", "").strip().rstrip("/")
# The hour (0-23, in TIME_ZONE) at which a user who chose the daily digest gets it: the task
# workers send it then, each user's digest being a task scheduled by their first notification.
NOTIFICATIONS_DIGEST_HOUR = env_int("NOTIFICATIONS_DIGEST_HOUR", 7)
if not 0 <= NOTIFICATIONS_DIGEST_HOUR <= 23:
    raise ImproperlyConfigured("NOTIFICATIONS_DIGEST_HOUR must be an hour from 0 to 23.")
# How often (minutes) the task workers read every followed persona, so that followers hear of a
# change made in the Tavus portal even when nobody opens the persona here; 0 turns it off.
FOLLOW_CHECK_MINUTES = env_int("FOLLOW_CHECK_MINUTES", 15)
# How long a password reset link works (Django's default is three days).
PASSWORD_RESET_TIMEOUT = env_int("PASSWORD_RESET_HOURS", 24) * 3600

# --- Content-Security-Policy (django-csp 4) --------------------------------------------------------
# Scripts and styles come only from our own static files: no inline scripts, styles or event
# handlers anywhere (htmx's own indicator <style> is turned off in base.html). Replica thumbnails
# are videos on Tavus's CDN, hence media-src https:.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "media-src": [SELF, "https:"],
        "object-src": [NONE],
        "base-uri": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    }
}

# --- Request size limits ---------------------------------------------------------------------------
# No request body (file uploads aside) may be larger than the largest import (MAX_IMPORT_BYTES,
# above). Django refuses a larger one, or one with too many fields, through handler400: a plain
# page with status 413 (personas_app.views.errors.bad_request), never a 500.
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_IMPORT_BYTES
FILE_UPLOAD_MAX_MEMORY_SIZE = MAX_IMPORT_BYTES
# The editor posts about 45 fields for each tool opened for editing (2 when folded): a persona of 200
# tools of 10 parameters, every tool open, posts about 9 450. Twice that leaves room.
DATA_UPLOAD_MAX_NUMBER_FIELDS = env_int("DATA_UPLOAD_MAX_NUMBER_FIELDS", 20_000)

# --- Error reports: no secret on any error page or report, whatever DEBUG is -----------------------
DEFAULT_EXCEPTION_REPORTER_FILTER = "personas_app.views.errors.SecretsExceptionReporterFilter"

# --- Logging: secrets are scrubbed by a filter on every handler ------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"scrub_secrets": {"()": "personas_app.logging.ScrubSecretsFilter"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": ["scrub_secrets"]},
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.server": {"level": "WARNING"},
    },
}
