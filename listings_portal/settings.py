"""The one settings module. Every deploy-specific value comes from the environment.

Defaults are the embedded development setup (SQLite, an SQLite Celery broker, the
Spark sandbox mounted in the same server); production sets DJANGO_DEBUG=0 and the
values `manage.py check --deploy` asks for.
"""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP
from kombu import Queue

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("PORTAL_VAR_DIR", BASE_DIR / "var"))


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value not in (None, "") else default


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


DEBUG = env_bool("DJANGO_DEBUG", True)
# The committed key only ever signs development sessions: production refuses it and an empty one.
_DEVELOPMENT_SECRET_KEY = "dev-only-insecure-key-change-me-" + "x" * 32
SECRET_KEY = env_str("DJANGO_SECRET_KEY") or (_DEVELOPMENT_SECRET_KEY if DEBUG else "")
if not DEBUG and SECRET_KEY in {"", _DEVELOPMENT_SECRET_KEY}:
    raise ImproperlyConfigured(
        "DJANGO_SECRET_KEY must be set to a secret of your own when DJANGO_DEBUG=0 (the development "
        "key is refused). Make one with: python -c 'import secrets; print(secrets.token_urlsafe(50))'"
    )
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "accounts",
    "drafts",
    "media_manager",
    "mls",
    # The migration history of the models that lived in the former `spark` app (label "spark").
    "mls.legacy",
    "sandbox",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "listings_portal.urls"
WSGI_APPLICATION = "listings_portal.wsgi.application"
ASGI_APPLICATION = "listings_portal.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------
# DATABASE_URL selects PostgreSQL (postgres://...); the default is an embedded SQLite.
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'portal.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and a busy timeout let the web server and the worker share the file.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
DATABASES["default"]["TEST"] = {"NAME": env_str("DATABASE_TEST_NAME") or None}

# --- Auth ---------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "drafts:draft_list"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Sign-in throttling (accounts/throttle.py): failed sign-ins counted inside the window. A
# (username, address) pair locks first; an address gets more room (an office may share one
# public IP); a username failing from many addresses is slowed to one try per pause, not shut,
# so a stranger cannot keep an agent out.
LOGIN_THROTTLE_WINDOW_SECONDS = env_int("LOGIN_THROTTLE_WINDOW_SECONDS", 900)
LOGIN_THROTTLE_FAILURES_PER_USERNAME_AND_ADDRESS = env_int(
    "LOGIN_THROTTLE_FAILURES_PER_USERNAME_AND_ADDRESS", 5
)
LOGIN_THROTTLE_FAILURES_PER_ADDRESS = env_int(
    "LOGIN_THROTTLE_FAILURES_PER_ADDRESS", 4 * LOGIN_THROTTLE_FAILURES_PER_USERNAME_AND_ADDRESS
)
LOGIN_THROTTLE_FAILURES_PER_USERNAME = env_int(
    "LOGIN_THROTTLE_FAILURES_PER_USERNAME", 4 * LOGIN_THROTTLE_FAILURES_PER_USERNAME_AND_ADDRESS
)
LOGIN_THROTTLE_USERNAME_PAUSE_SECONDS = env_int("LOGIN_THROTTLE_USERNAME_PAUSE_SECONDS", 60)

# --- Cache --------------------------------------------------------------------------
CACHE_URL = env_str("CACHE_URL", "")
if CACHE_URL.startswith("redis"):
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}}
else:
    # The database cache is shared by the web server and the worker on the embedded setup.
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "portal_cache"}
    }

# --- Internationalisation -------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "America/Chicago")
USE_I18N = True
USE_TZ = True

# --- Static and media -----------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "staticfiles")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns on every request without it
# Uploaded files are private: they are only ever served by views that check access.
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
MEDIA_URL = None
FILE_UPLOAD_TEMP_DIR = env_str("FILE_UPLOAD_TEMP_DIR", "") or None
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
DATA_UPLOAD_MAX_NUMBER_FILES = env_int("DATA_UPLOAD_MAX_NUMBER_FILES", 20)
# With a bucket, every private file lives in S3-compatible storage and no process needs a disk
# shared with another (docs/architecture.md#media-storage-past-one-machine). Credentials: the
# MEDIA_S3_ keys, else boto3's own chain (AWS_ACCESS_KEY_ID..., an instance role).
_s3_bucket = env_str("MEDIA_S3_BUCKET")
_s3_endpoint = env_str("MEDIA_S3_ENDPOINT_URL") or None
STORAGES = {
    "default": (
        {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": _s3_bucket,
                "endpoint_url": _s3_endpoint,
                "region_name": env_str("MEDIA_S3_REGION") or None,
                "access_key": env_str("MEDIA_S3_ACCESS_KEY_ID") or None,
                "secret_key": env_str("MEDIA_S3_SECRET_ACCESS_KEY") or None,
                "signature_version": "s3v4",
                # MinIO and most S3-compatible servers behind one host name want path-style URLs.
                "addressing_style": env_str("MEDIA_S3_ADDRESSING_STYLE", "path" if _s3_endpoint else "auto"),
                "default_acl": "private",
                "querystring_auth": True,
                # Names are random (128 bits): a HEAD before every save to avoid one would buy nothing.
                "file_overwrite": True,
                # A file read whole through the storage spills to disk past this, as uploads do.
                "max_memory_size": FILE_UPLOAD_MAX_MEMORY_SIZE,
            },
        }
        if _s3_bucket
        else {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": MEDIA_ROOT}}
    ),
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if not DEBUG
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

# --- Security -------------------------------------------------------------------------
# Django's database sessions, their read on every request compiled once (accounts/sessions.py).
SESSION_ENGINE = "accounts.sessions"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", not DEBUG)
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 60 * 60 * 12)
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", not DEBUG)
SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = env_bool("DJANGO_SECURE_HSTS_PRELOAD", not DEBUG)
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("DJANGO_BEHIND_PROXY", False) else None
)
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# No inline scripts or styles anywhere: htmx is configured (base.html) to need neither.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:", "blob:"],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}

# --- Email ----------------------------------------------------------------------------
# Console in development; SMTP (configured below) unless EMAIL_BACKEND says otherwise.
EMAIL_BACKEND_PATH = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
MAILERS = {
    "default": {
        "BACKEND": EMAIL_BACKEND_PATH,
        "OPTIONS": (
            {
                "host": env_str("EMAIL_HOST", "localhost"),
                "port": env_int("EMAIL_PORT", 25),
                "username": env_str("EMAIL_HOST_USER"),
                "password": env_str("EMAIL_HOST_PASSWORD"),
                "use_tls": env_bool("EMAIL_USE_TLS", False),
            }
            if EMAIL_BACKEND_PATH.endswith("smtp.EmailBackend")
            # `make run` writes the demo's mail here rather than into its log.
            else {"file_path": env_str("EMAIL_FILE_PATH", str(VAR_DIR / "mail"))}
            if EMAIL_BACKEND_PATH.endswith("filebased.EmailBackend")
            else {}
        ),
    }
}
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "portal@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Celery ---------------------------------------------------------------------------
# The broker only rings the doorbell; the database records what must be pushed.
# The embedded default is an SQLite file through kombu's SQLAlchemy transport (each publish one
# transaction; see listings_portal/lib/sqlite_broker.py for why not the filesystem transport).
EMBEDDED_BROKER_URL = f"portal-sqlite+sqlite:///{VAR_DIR / 'broker.sqlite3'}"
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", EMBEDDED_BROKER_URL)
if CELERY_BROKER_URL == EMBEDDED_BROKER_URL:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
# Longer than the hard time limit, so a running task is never handed out twice; a message whose
# worker was killed before its ack is handed out again after it.
CELERY_BROKER_VISIBILITY_TIMEOUT = env_float("CELERY_BROKER_VISIBILITY_TIMEOUT", 900.0)
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {
        "visibility_timeout": CELERY_BROKER_VISIBILITY_TIMEOUT,
        # How often a worker looks for a message (a read; the write lock only to take one). Also
        # the pause while all its processes are busy, so it bounds how fast short tasks go.
        "polling_interval": env_float("CELERY_BROKER_POLLING_INTERVAL", 0.05),
    }
    if CELERY_BROKER_URL.startswith("portal-sqlite+")
    else {
        "visibility_timeout": CELERY_BROKER_VISIBILITY_TIMEOUT,
        "socket_timeout": 2,
        "socket_connect_timeout": 2,
    }
)
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 270
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = TIME_ZONE
# Publishing from a web request must never hang it: a short timeout, no retries.
CELERY_TASK_PUBLISH_RETRY = False
CELERY_BEAT_SCHEDULE: dict = {}
# Photo processing has a queue of its own. A worker takes from its queues in turn, so a photo
# waits for at most one push, not behind every push a busy office has queued (pushes are many
# and wait on the MLS; a photo is a few hundred ms of CPU someone is looking at). Every worker
# consumes both queues unless told otherwise (-Q).
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_QUEUES = (Queue("celery"), Queue("photos"))
CELERY_TASK_ROUTES = {"media_manager.tasks.process_photo": {"queue": "photos"}}

# --- Spark Platform API -----------------------------------------------------------------
# The sandbox is mounted at /sandbox/ in this server; point SPARK_API_URL at
# https://sparkapi.com to use the real API.
PORTAL_BASE_URL = env_str("PORTAL_BASE_URL", "http://127.0.0.1:8000")
SPARK_API_URL = env_str("SPARK_API_URL", PORTAL_BASE_URL + "/sandbox")
# The sandbox lists every office's listings to whoever holds its built-in token: development only,
# unless asked for. Its built-in token is the default access token only where the sandbox runs.
SPARK_SANDBOX_ENABLED = env_bool("SPARK_SANDBOX_ENABLED", DEBUG)
# The sandbox's built-in personal access token (the sandbox reads only SPARK_SANDBOX_* settings).
SPARK_SANDBOX_ACCESS_TOKEN = env_str("SPARK_SANDBOX_ACCESS_TOKEN", "sandbox-access-token")
SPARK_ACCESS_TOKEN = env_str(
    "SPARK_ACCESS_TOKEN", SPARK_SANDBOX_ACCESS_TOKEN if SPARK_SANDBOX_ENABLED else ""
)
SPARK_CLIENT_ID = env_str("SPARK_CLIENT_ID", "")
SPARK_CLIENT_SECRET = env_str("SPARK_CLIENT_SECRET", "")
SPARK_REFRESH_TOKEN = env_str("SPARK_REFRESH_TOKEN", "")
SPARK_USER_AGENT = env_str("SPARK_USER_AGENT", "ListingDraftsPortal/1.0")
SPARK_CONNECT_TIMEOUT = env_float("SPARK_CONNECT_TIMEOUT", 5.0)
SPARK_READ_TIMEOUT = env_float("SPARK_READ_TIMEOUT", 30.0)
SPARK_RATE_LIMIT_PER_SECOND = env_float("SPARK_RATE_LIMIT_PER_SECOND", 5.0)
# Redis shared by all workers for the rate limit and the OAuth token; empty = one machine.
SYNC_REDIS_URL = env_str(
    "SYNC_REDIS_URL",
    next((url for url in (CACHE_URL, CELERY_BROKER_URL) if url.startswith("redis")), ""),
)
# The fault-injection and reset endpoints of the sandbox; never on in production. They and the
# sandbox's page need a staff session, or this token in the X-Sandbox-Control-Token header (for
# scripts and test harnesses); empty = no token access.
SPARK_SANDBOX_CONTROL_ENABLED = env_bool("SPARK_SANDBOX_CONTROL_ENABLED", DEBUG)
SPARK_SANDBOX_CONTROL_TOKEN = env_str("SPARK_SANDBOX_CONTROL_TOKEN", "")
# The sandbox's OAuth client (POST /sandbox/v1/oauth2/grant) and the lifetime of the tokens it issues.
SPARK_SANDBOX_CLIENT_ID = env_str("SPARK_SANDBOX_CLIENT_ID", "sandbox-client")
SPARK_SANDBOX_CLIENT_SECRET = env_str("SPARK_SANDBOX_CLIENT_SECRET", "sandbox-secret")
SPARK_SANDBOX_TOKEN_TTL = env_int("SPARK_SANDBOX_TOKEN_TTL", 3600)
# Fault rules a fresh (or reset) sandbox starts with: JSON as POSTed to _control/faults; none by default.
SPARK_SANDBOX_FAULTS = env_str("SPARK_SANDBOX_FAULTS", "")
# JSON overrides of the sandbox's switches for what the Spark pages leave open
# (docs/spark-protocol.md#open-questions).
SPARK_SANDBOX_OPTIONS = env_str("SPARK_SANDBOX_OPTIONS", "")

# --- Sync engine (mls/) --------------------------------------------------------------------
# After-commit doorbell toward the broker (a background thread; never blocks a request).
SYNC_ENQUEUE_ENABLED = env_bool("SYNC_ENQUEUE_ENABLED", True)
# One worker per draft: the claim's lease, renewed before every remote call. Empty = derived
# from the Spark timeouts (2 x (connect + read) + 60 s), so a live worker never loses it.
SYNC_LEASE_SECONDS = env_float("SYNC_LEASE_SECONDS", 0.0)
# Transient failures: full-jitter back-off from the base to the cap; then "needs attention".
SYNC_BACKOFF_BASE_SECONDS = env_float("SYNC_BACKOFF_BASE_SECONDS", 2.0)
SYNC_BACKOFF_CAP_SECONDS = env_float("SYNC_BACKOFF_CAP_SECONDS", 600.0)
SYNC_MAX_ATTEMPTS = env_int("SYNC_MAX_ATTEMPTS", 10)
# How long a request whose answer was lost may still land remotely (longer than the read
# timeout): before re-creating, or to read the remote back after an unanswered write.
SYNC_AMBIGUOUS_SETTLE_SECONDS = env_float("SYNC_AMBIGUOUS_SETTLE_SECONDS", 120.0)
# Reorders within the interval of the last one wait until the order is still for the settle.
SYNC_ORDER_SETTLE_SECONDS = env_float("SYNC_ORDER_SETTLE_SECONDS", 1.0)
SYNC_ORDER_MIN_INTERVAL_SECONDS = env_float("SYNC_ORDER_MIN_INTERVAL_SECONDS", 10.0)
# The same for edits of fields, photo and document records: the MLS's only limit is a refusal
# (1550), so a burst of saves goes as one call with the last values (mls/planner.py `Timing`).
SYNC_EDIT_SETTLE_SECONDS = env_float("SYNC_EDIT_SETTLE_SECONDS", 1.0)
SYNC_EDIT_MIN_INTERVAL_SECONDS = env_float("SYNC_EDIT_MIN_INTERVAL_SECONDS", 10.0)
# Upload tickets a push asks for at once, after the first (asking changes nothing remotely; the
# uploads themselves go one at a time, each recorded as it is confirmed).
SYNC_TICKET_CONCURRENCY = env_int("SYNC_TICKET_CONCURRENCY", 4)
# One task stops after this long (under the soft time limit) and queues itself again.
SYNC_PUSH_BUDGET_SECONDS = env_float("SYNC_PUSH_BUDGET_SECONDS", 200.0)
# Longest wait for the shared rate limit before a call counts as a transient failure.
SYNC_RATE_WAIT_SECONDS = env_float("SYNC_RATE_WAIT_SECONDS", 60.0)
# The sweep re-queues a pending draft whose last message is older than this.
SYNC_SWEEP_SECONDS = env_float("SYNC_SWEEP_SECONDS", 10.0)
SYNC_REQUEUE_AFTER_SECONDS = env_float("SYNC_REQUEUE_AFTER_SECONDS", 30.0)
SYNC_DRIFT_INTERVAL_SECONDS = env_float("SYNC_DRIFT_INTERVAL_SECONDS", 300.0)
# Remote calls older than this leave the per-draft sync log (pruned by the drift check).
SYNC_CALL_LOG_DAYS = env_int("SYNC_CALL_LOG_DAYS", 30)
# How long a worker trusts its copy of the shared (Redis) OAuth token before reading it again.
SYNC_TOKEN_CACHE_SECONDS = env_float("SYNC_TOKEN_CACHE_SECONDS", 5.0)
# Publishing (mls/publishing.py): transient failures of one step before the job fails.
PROMOTION_MAX_ATTEMPTS = env_int("PROMOTION_MAX_ATTEMPTS", 8)
CELERY_BEAT_SCHEDULE["spark-sync-sweep"] = {"task": "spark.sweep", "schedule": SYNC_SWEEP_SECONDS}
CELERY_BEAT_SCHEDULE["mls-open-houses-sweep"] = {
    "task": "mls.sweep_open_houses",
    "schedule": SYNC_SWEEP_SECONDS,
}
CELERY_BEAT_SCHEDULE["spark-check-drift"] = {
    "task": "spark.check_drift",
    "schedule": SYNC_DRIFT_INTERVAL_SECONDS,
}

# --- MLS metadata (mls/metadata.py) -----------------------------------------------------
# The MLS whose fields, lists and rules the portal keeps; empty = the one the Spark key reads.
SPARK_MLS_ID = env_str("SPARK_MLS_ID", "")
# How often beat reads the MLS's metadata again (conditional GET where Spark offers it).
MLS_METADATA_REFRESH_SECONDS = env_int("MLS_METADATA_REFRESH_SECONDS", 86400)
CELERY_BEAT_SCHEDULE["mls-refresh-metadata"] = {
    "task": "mls.refresh_metadata",
    "schedule": MLS_METADATA_REFRESH_SECONDS,
}

# --- Media limits (media_manager) -----------------------------------------------------
PHOTO_MAX_BYTES = env_int("PHOTO_MAX_BYTES", 25 * 1024 * 1024)
PHOTO_MAX_PIXELS = env_int("PHOTO_MAX_PIXELS", 40_000_000)
PHOTO_MAX_SIDE = env_int("PHOTO_MAX_SIDE", 12_000)
PHOTO_MIN_LONG_EDGE_WARNING = env_int("PHOTO_MIN_LONG_EDGE_WARNING", 1024)
PHOTO_MAX_PER_DRAFT = env_int("PHOTO_MAX_PER_DRAFT", 100)
# Readiness (drafts/readiness.py): the photos a draft needs before it may be submitted.
LISTING_MIN_PHOTOS = env_int("LISTING_MIN_PHOTOS", 1)
PHOTO_MASTER_LONG_EDGE = env_int("PHOTO_MASTER_LONG_EDGE", 2048)
PHOTO_MASTER_MAX_BYTES = env_int("PHOTO_MASTER_MAX_BYTES", 5 * 1024 * 1024)
DOCUMENT_MAX_BYTES = env_int("DOCUMENT_MAX_BYTES", 20 * 1024 * 1024)
DOCUMENT_MAX_PAGES = env_int("DOCUMENT_MAX_PAGES", 200)
DOCUMENT_MAX_PER_DRAFT = env_int("DOCUMENT_MAX_PER_DRAFT", 50)
# SQLite cannot defer the unique (draft, position) constraints of photos and documents;
# media_manager's migration 0002 gives it plain unique indexes instead, so nothing is lost.
SILENCED_SYSTEM_CHECKS = ["models.W038"]
# SQLite's planner statistics, as the drafts grow (drafts/tasks.py; PostgreSQL keeps its own).
CELERY_BEAT_SCHEDULE["drafts-refresh-planner-statistics"] = {
    "task": "drafts.refresh_planner_statistics",
    "schedule": env_int("PLANNER_STATISTICS_SECONDS", 3600),
}
# Re-queue photos whose processing message was lost (the media page's polling does it too).
CELERY_BEAT_SCHEDULE["media-requeue-stuck-photos"] = {
    "task": "media_manager.tasks.requeue_stuck_photos",
    "schedule": 60.0,
}

# --- Listing parts: virtual tour and video links (drafts/links.py) -----------------------
# The hosts a tour or video link may point at; a subdomain of one is allowed too.
LISTING_LINK_HOSTS = env_list(
    "LISTING_LINK_HOSTS",
    [
        "matterport.com",
        "youtube.com",
        "youtu.be",
        "vimeo.com",
        "kuula.co",
        "iguide.ca",
        "youriguide.com",
        "cloudpano.com",
        "zillow.com",
    ],
)

# --- Health (listings_portal/health.py) ---------------------------------------------------
# Anonymous GET /health/ says only healthy or not; the report (database, broker, remote) needs a
# staff session or "Authorization: Bearer <HEALTH_TOKEN>" (empty = staff only). The remote's
# answer is reused this long, so the endpoint cannot spend the MLS rate limit.
HEALTH_TOKEN = env_str("HEALTH_TOKEN", "")
HEALTH_REMOTE_CACHE_SECONDS = env_float("HEALTH_REMOTE_CACHE_SECONDS", 10.0)

# --- Logging ----------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # runserver's line per request (Django's own default is INFO whatever the root says).
        "django.server": {"level": env_str("LOG_LEVEL", "INFO")},
    },
}

if env_bool("PORTAL_FAST_PASSWORD_HASHER", False):
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
