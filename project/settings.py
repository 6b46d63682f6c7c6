"""The one settings module. Everything that differs between machines comes from the
environment (or a `.env` file, loaded here); see `.env.example` for every variable."""

import warnings
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.templatetags.static import static
from django.urls import reverse_lazy
from dotenv import load_dotenv

from project.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
load_dotenv(BASE_DIR / ".env")

DEBUG = env_bool("DEBUG", False)
TESTING = env_bool("TESTING", False)

SECRET_KEY = env_str("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG and not TESTING:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set it in the environment or in .env "
            "(it may only be omitted when DEBUG=true)."
        )
    SECRET_KEY = "insecure-dev-only-key-do-not-use-in-production-0123456789"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "project.admin_site.BackOfficeConfig",  # unfold, with our admin site (see the module)
    "unfold.contrib.filters",
    "unfold.contrib.forms",
    "unfold.contrib.import_export",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_jsonform",
    "import_export",
    "django_tasks_db",
    "axes",
    "accounts",
    "workflows",
    "tickets",
    "ninja",  # its templates and vendored Swagger UI static files (no CDN)
    "api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "api.middleware.ApiKeyMiddleware",  # before the scope: a key's request runs as its user
    "accounts.middleware.CompanyScopeMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "axes.middleware.AxesMiddleware",
    "project.middleware.AdminContentSecurityPolicyMiddleware",
    # Innermost, yet before any view hook (CSRF reads the form there): parses multipart
    # bodies through the upload limits; its 413 still gets the headers above.
    "project.uploads.UploadLimitMiddleware",
]

ROOT_URLCONF = "project.urls"
WSGI_APPLICATION = "project.wsgi.application"

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
                "django.template.context_processors.csp",
                "tickets.context_processors.navigation",
            ],
        },
    },
]

try:
    DATABASES = {
        "default": dj_database_url.parse(
            env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
            conn_max_age=env_int("DB_CONN_MAX_AGE", 0),
        )
    }
except Exception as exc:  # dj-database-url raises several types; all mean "bad value"
    raise ImproperlyConfigured(
        f"DATABASE_URL is malformed ({exc}). Expected e.g. "
        "postgres://user:password@host:5432/dbname or sqlite:///path/to/db.sqlite3"
    ) from exc
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env_bool(
    "DB_PREPARED_STATEMENTS", True
):
    # Parameters bound on the server, and a statement a connection runs a sixth time is
    # prepared: PostgreSQL stops parsing and planning it anew (issue 10: half the engine's
    # SQL time). Pays with persistent connections (DB_CONN_MAX_AGE); off for a pooler
    # that cannot keep prepared statements (PgBouncer in transaction mode, unless 1.22 or
    # later with max_prepared_statements set).
    DATABASES["default"].setdefault("OPTIONS", {}).update(server_side_binding=True, prepare_threshold=5)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Background worker and web server share the file; wait instead of failing.
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
    # A file, not memory, so a test can start a real db_worker process on it.
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / "test_db.sqlite3")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "accounts.backends.UserBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if TESTING:
    # Hashing dominates test time; the algorithm is not what the tests check.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# An invitation link (sent when a company admin adds a person) works once, for this long.
INVITE_MAX_AGE_SECONDS = env_int("INVITE_MAX_AGE_SECONDS", 3 * 24 * 3600)

LOGIN_URL = reverse_lazy("login")
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"

# django-axes: lock an (account, IP) pair after repeated failures, for a limited time.
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = env_int("AXES_COOLOFF_MINUTES", 15) / 60  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_FORM_FIELD = "username"
# Counted per normalised email: case or whitespace variants of one address share a counter.
AXES_USERNAME_CALLABLE = "accounts.auth.axes_username"
AXES_LOCKOUT_TEMPLATE = "accounts/lockout.html"
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(BASE_DIR / "media")))
STORAGES: dict[str, dict[str, Any]] = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG or TESTING
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# Mail. The environment uses Django's classic names (EMAIL_HOST, EMAIL_PORT,
# EMAIL_HOST_USER, EMAIL_HOST_PASSWORD, EMAIL_USE_TLS, EMAIL_USE_SSL, EMAIL_TIMEOUT);
# they fill Django 6.1's MAILERS, which replaces those settings (both may not be set).
# Without EMAIL_HOST, development prints mails on the console and production sends
# through SMTP on localhost:25; EMAIL_BACKEND overrides both.
_SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
_email_host = env_str("EMAIL_HOST", "")
_mail_backend = env_str("EMAIL_BACKEND", "") or (
    _SMTP_BACKEND
    if _email_host or not (DEBUG or TESTING)
    else "django.core.mail.backends.console.EmailBackend"
)
_mail_options: dict[str, Any] = {}
if _mail_backend == _SMTP_BACKEND:
    _mail_options = {
        "host": _email_host or "localhost",
        "port": env_int("EMAIL_PORT", 587 if env_bool("EMAIL_USE_TLS", False) else 25),
        "username": env_str("EMAIL_HOST_USER", ""),
        "password": env_str("EMAIL_HOST_PASSWORD", ""),
        "use_tls": env_bool("EMAIL_USE_TLS", False),
        "use_ssl": env_bool("EMAIL_USE_SSL", False),
        # A background job must not hang on a dead mail server.
        "timeout": env_int("EMAIL_TIMEOUT", 10),
    }
    if _mail_options["use_tls"] and _mail_options["use_ssl"]:
        raise ImproperlyConfigured("Set at most one of EMAIL_USE_TLS and EMAIL_USE_SSL.")
MAILERS: dict[str, dict[str, Any]] = {"default": {"BACKEND": _mail_backend, "OPTIONS": _mail_options}}
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "TicketFlower <noreply@ticketflower.local>")
# The sweeper queues again an email not sent after this long (its job failed, or was never
# queued), doubling the wait after each try, and gives up after the last attempt.
NOTIFICATION_EMAIL_RETRY_SECONDS = env_int("NOTIFICATION_EMAIL_RETRY_SECONDS", 300)
NOTIFICATION_EMAIL_MAX_ATTEMPTS = env_int("NOTIFICATION_EMAIL_MAX_ATTEMPTS", 5)
# A person's daily-digest notices are mailed together once the oldest is this old.
NOTIFICATION_DIGEST_HOURS = env_int("NOTIFICATION_DIGEST_HOURS", 24)

# The queue: the database (default, one machine) or Redis (several worker machines);
# README "Scaling out" says when to switch. Both run with `manage.py run_worker`.
# django-tasks-db's backend with a cheaper enqueue (workflows/jobs.py); the library's own
# name still works, at the cost of an ORM INSERT per job.
DATABASE_TASKS_BACKEND = "workflows.jobs.DatabaseBackend"
REDIS_TASKS_BACKEND = "django_tasks_redis.RedisTaskBackend"
TASKS_BACKEND = env_str("TASKS_BACKEND", DATABASE_TASKS_BACKEND)
# Mail has its own queue and worker (tickets.tasks.MAIL_QUEUE): on one queue, a burst of
# notices held up the actions behind it, and the other way round (bench/load.py).
TASK_QUEUES = ["default", "mail"]
TASKS: dict[str, dict[str, Any]] = {"default": {"BACKEND": TASKS_BACKEND, "QUEUES": TASK_QUEUES}}
if TASKS_BACKEND == REDIS_TASKS_BACKEND:
    TASKS["default"]["OPTIONS"] = {
        "REDIS_URL": env_str("TASKS_REDIS_URL", "redis://127.0.0.1:6379/0"),
        # Several deployments (or test runs) can share one Redis under their own prefix.
        "REDIS_KEY_PREFIX": env_str("TASKS_REDIS_PREFIX", "ticketflower"),
        # A submit must not hang on a Redis that is down: the sweeper re-queues instead.
        "REDIS_SOCKET_CONNECT_TIMEOUT": env_int("TASKS_REDIS_CONNECT_TIMEOUT", 2),
        # A message held this long by a worker (a dead one) goes to another worker.
        # Harmless even while the first still calls: the engine's claim only takes an
        # OPEN task, so the second delivery does nothing.
        "REDIS_CLAIM_TIMEOUT": env_int("TASKS_REDIS_CLAIM_TIMEOUT", 300),
        # Results are only for operators; the task rows are the record.
        "REDIS_COMPLETED_TASK_TTL": env_int("TASKS_REDIS_RESULT_TTL", 86400),
    }

# Outbound workflow actions.
ACTIONS_ALLOW_PRIVATE_NETWORKS = env_bool("ACTIONS_ALLOW_PRIVATE_NETWORKS", False)
ACTIONS_MAX_RESPONSE_BYTES = env_int("ACTIONS_MAX_RESPONSE_BYTES", 1024 * 1024)
ACTIONS_DEFAULT_TIMEOUT_SECONDS = env_int("ACTIONS_DEFAULT_TIMEOUT_SECONDS", 10)
ACTIONS_MAX_ATTEMPTS = env_int("ACTIONS_MAX_ATTEMPTS", 4)
ACTIONS_RETRY_BASE_SECONDS = float(env_str("ACTIONS_RETRY_BASE_SECONDS", "2"))
ACTIONS_CALLBACK_DEADLINE_SECONDS = env_int("ACTIONS_CALLBACK_DEADLINE_SECONDS", 86400)
# An OPEN action task no worker claimed within this time is queued again by the sweeper.
ACTIONS_REQUEUE_AFTER_SECONDS = env_int("ACTIONS_REQUEUE_AFTER_SECONDS", 120)
# Finished jobs of the database queue are deleted by the sweeper after this many days.
JOBS_KEEP_DAYS = env_int("JOBS_KEEP_DAYS", 7)
# Base URL external systems use to reach the callback endpoint.
PUBLIC_BASE_URL = env_str("PUBLIC_BASE_URL", "http://127.0.0.1:8000")
# A run of automated steps longer than this without a human task is stopped.
WORKFLOW_MAX_AUTOMATED_STEPS = env_int("WORKFLOW_MAX_AUTOMATED_STEPS", 50)

# Built-in demo action endpoints used by the sample bundles (/demo/...). Never in production.
DEMO_ENDPOINTS_ENABLED = env_bool("DEMO_ENDPOINTS_ENABLED", DEBUG)

# A form task open longer than this shows as overdue in the back office.
TASK_OVERDUE_HOURS = env_int("TASK_OVERDUE_HOURS", 48)

# API keys: requests per key per window, counted in the database (shared by all processes).
API_RATE_LIMIT = env_int("API_RATE_LIMIT", 600)
API_RATE_LIMIT_WINDOW_SECONDS = env_int("API_RATE_LIMIT_WINDOW_SECONDS", 60)

# Upload limits (project/uploads.py), enforced while the body streams in: bytes per
# file, files per request, bytes per request. An attachment form takes at most
# UPLOAD_MAX_FILES files, which also bounds the files of one ticket.
UPLOAD_MAX_BYTES = env_int("UPLOAD_MAX_BYTES", 5 * 1024 * 1024)
UPLOAD_MAX_FILES = env_int("UPLOAD_MAX_FILES", 10)
UPLOAD_MAX_REQUEST_BYTES = env_int("UPLOAD_MAX_REQUEST_BYTES", 20 * 1024 * 1024)
FILE_UPLOAD_HANDLERS = [
    "project.uploads.UploadLimitHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

# Django 6 built-in Content Security Policy: everything is served from 'self'.
# No inline script anywhere: user pages load only static files (no 'unsafe-inline',
# so a stored link or markup cannot run script). Inline *styles* stay allowed: the
# django-jsonform widget and unfold set style attributes, and styles cannot run code.
SECURE_CSP = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'", "'unsafe-inline'"],
    "img-src": ["'self'", "data:"],
    "font-src": ["'self'", "data:"],
    "connect-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'none'"],
    "frame-ancestors": ["'none'"],
    "form-action": ["'self'"],
}
# The back office (project/middleware.py): the same, plus 'unsafe-eval', the least
# unfold allows -- its Alpine.js build compiles x-data/@click directives with
# `new Function`. It needs no inline script (unfold's and Django's admin templates load
# every script from static files), so 'unsafe-inline' stays out of script-src here too.
ADMIN_CSP = {**SECURE_CSP, "script-src": ["'self'", "'unsafe-eval'"]}

# Database sessions, read without the ORM (accounts/sessions.py).
SESSION_ENGINE = "accounts.sessions"
SESSION_COOKIE_HTTPONLY = True
if not DEBUG and not TESTING:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "WARNING")},
    "loggers": {
        "django.tasks": {"level": env_str("TASKS_LOG_LEVEL", "WARNING")},
        # Tests provoke 4xx answers and refused addresses on purpose.
        "django.request": {"level": "ERROR" if TESTING else "WARNING"},
        "requests_hardened": {"level": "ERROR" if TESTING else "WARNING"},
        "axes": {"level": "ERROR" if TESTING else "WARNING"},
        "mail.log": {"level": "ERROR" if TESTING else "WARNING"},  # aiosmtpd, the tests' SMTP server
    },
}
if TESTING:
    warnings.filterwarnings("ignore", message="No directory at")

UNFOLD = {
    "SITE_TITLE": "TicketFlower",
    "SITE_HEADER": "TicketFlower back office",
    "SITE_SYMBOL": "local_florist",
    "DASHBOARD_CALLBACK": "tickets.dashboard.dashboard_callback",
    "SHOW_HISTORY": True,
    "SIDEBAR": {
        "show_search": True,
        "show_all_applications": False,
        "navigation": "tickets.admin.sidebar.navigation",
    },
    # Keeps the sidebar docked at 1280 px and makes its toggle work on the first click.
    "SCRIPTS": [lambda request: static("js/admin-sidebar.js")],
    # Visible boxes for the field builder's inputs (see the file).
    "STYLES": [lambda request: static("css/admin.css")],
}
