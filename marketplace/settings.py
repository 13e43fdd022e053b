"""Settings for the marketplace.

Every deployment-specific value is read from the environment; docs/settings.md lists them all.
With no environment at all the project runs in the *embedded default*: SQLite, Celery tasks run
in-process (no broker) and search uses the database.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from oscar.defaults import *  # noqa: F403  (Oscar's documented way to pull in its defaults)

BASE_DIR = Path(__file__).resolve().parent.parent


def env(name: str, default: str = "") -> str:
    """A setting from the environment; set-but-empty counts as unset (as in env files)."""
    return os.environ.get(name) or default


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


# --- Mode ---------------------------------------------------------------------------------
# MARKETPLACE_ENV=production turns on the production checks below.
MARKETPLACE_ENV = env("MARKETPLACE_ENV", "development")
PRODUCTION = MARKETPLACE_ENV == "production"

DEFAULT_SECRET_KEY = "insecure-embedded-default-key-change-me"  # noqa: S105
SECRET_KEY = env("DJANGO_SECRET_KEY", DEFAULT_SECRET_KEY)
# Previous keys, still accepted for signatures while a rotation settles (docs/runbook.md).
SECRET_KEY_FALLBACKS = env_list("DJANGO_SECRET_KEY_FALLBACKS", [])
DEBUG = env_bool("DJANGO_DEBUG", default=not PRODUCTION)

if PRODUCTION:
    problems = []
    if DEBUG:
        problems.append("DJANGO_DEBUG must be off")
    if SECRET_KEY == DEFAULT_SECRET_KEY or len(SECRET_KEY) < 32:
        problems.append("DJANGO_SECRET_KEY must be set to a random value of at least 32 characters")
    if problems:
        raise ImproperlyConfigured("Refusing to start in production: " + "; ".join(problems))

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", [] if PRODUCTION else ["*"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

# --- Plugins ------------------------------------------------------------------------------
# Each plugin is one Django app in plugins/. Remove one from this list (or from the
# MARKETPLACE_PLUGINS environment variable) and the rest keeps working.
MARKETPLACE_PLUGINS = env_list(
    "MARKETPLACE_PLUGINS",
    [
        "plugins.fertilizer",
        "plugins.delivery_routing",
        "plugins.group_orders",
        "plugins.produce",
        "plugins.village_info",
    ],
)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.sites",
    "django.contrib.flatpages",
    "django.contrib.humanize",
    # Our core apps come before Oscar so our templates and translations win.
    "marketplace.accounts",
    "marketplace.stations",
    "marketplace.core",
    "marketplace.payments",
    "marketplace.search",
    "storefront",
    # Oscar, with the apps we fork replaced by ours.
    "oscar.config.Shop",
    "oscar.apps.analytics.apps.AnalyticsConfig",
    "oscar.apps.checkout.apps.CheckoutConfig",
    "oscar.apps.address.apps.AddressConfig",
    "oscar.apps.shipping.apps.ShippingConfig",
    "marketplace.apps.catalogue.apps.CatalogueConfig",
    "oscar.apps.catalogue.reviews.apps.CatalogueReviewsConfig",
    "oscar.apps.communication.apps.CommunicationConfig",
    "marketplace.apps.partner.apps.PartnerConfig",
    "oscar.apps.basket.apps.BasketConfig",
    "oscar.apps.payment.apps.PaymentConfig",
    "oscar.apps.offer.apps.OfferConfig",
    "marketplace.apps.order.apps.OrderConfig",
    "oscar.apps.customer.apps.CustomerConfig",
    "oscar.apps.search.apps.SearchConfig",
    "oscar.apps.voucher.apps.VoucherConfig",
    "oscar.apps.wishlists.apps.WishlistsConfig",
    "marketplace.apps.dashboard.apps.DashboardConfig",
    "oscar.apps.dashboard.reports.apps.ReportsDashboardConfig",
    "oscar.apps.dashboard.users.apps.UsersDashboardConfig",
    "oscar.apps.dashboard.orders.apps.OrdersDashboardConfig",
    "oscar.apps.dashboard.catalogue.apps.CatalogueDashboardConfig",
    "oscar.apps.dashboard.offers.apps.OffersDashboardConfig",
    "oscar.apps.dashboard.partners.apps.PartnersDashboardConfig",
    "oscar.apps.dashboard.pages.apps.PagesDashboardConfig",
    "oscar.apps.dashboard.ranges.apps.RangesDashboardConfig",
    "oscar.apps.dashboard.reviews.apps.ReviewsDashboardConfig",
    "oscar.apps.dashboard.vouchers.apps.VouchersDashboardConfig",
    "oscar.apps.dashboard.communications.apps.CommunicationsDashboardConfig",
    "oscar.apps.dashboard.shipping.apps.ShippingDashboardConfig",
    "widget_tweaks",
    "haystack",
    "treebeard",
    "sorl.thumbnail",
    "django_tables2",
    "graphene_django",
    "axes",
    *MARKETPLACE_PLUGINS,
]

SITE_ID = 1
AUTH_USER_MODEL = "accounts.User"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

MIDDLEWARE = [
    "marketplace.core.logs.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.gzip.GZipMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "oscar.apps.basket.middleware.BasketMiddleware",
    "django.contrib.flatpages.middleware.FlatpageFallbackMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as django-axes documents: turns a lockout into lockout_response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "marketplace.urls"
WSGI_APPLICATION = "marketplace.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "storefront" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.debug",
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "oscar.apps.search.context_processors.search_form",
                "oscar.apps.checkout.context_processors.checkout",
                "oscar.apps.communication.notifications.context_processors.notifications",
                "oscar.core.context_processors.metadata",
                "storefront.context_processors.navigation",
            ],
        },
    }
]

# --- Database -----------------------------------------------------------------------------
# DATABASE_URL, e.g. postgres://user:pass@host:5432/dbname. Default: SQLite file in var/.
VAR_DIR = Path(env("MARKETPLACE_VAR_DIR", str(BASE_DIR / "var")))
DATABASES = {
    "default": dj_database_url.parse(
        env("DATABASE_URL", f"sqlite:///{VAR_DIR / 'marketplace.sqlite3'}"),
        conn_max_age=int(env("DATABASE_CONN_MAX_AGE", "60")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = int(env("DATABASE_CONNECT_TIMEOUT", "5"))
    # Server-side parameter binding, and a statement run 5 times on a connection is prepared once
    # and then only executed: PostgreSQL stops parsing and planning every statement (a pledge's
    # database CPU halves). Off behind a PgBouncer in transaction pooling mode, which cannot keep
    # a connection's prepared statements.
    if env_bool("DATABASE_PREPARED_STATEMENTS", default=True):
        DATABASES["default"]["OPTIONS"] |= {"server_side_binding": True, "prepare_threshold": 5}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}

# --- Cache --------------------------------------------------------------------------------
REDIS_URL = env("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            # A Redis outage fails fast (readiness turns 503) instead of hanging web threads.
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    # Embedded default: one process, so a process-local cache does hold login attempts and rate
    # limits; production sets REDIS_URL and the counts are shared by every worker.
    SILENCED_SYSTEM_CHECKS = ["axes.W001"]

# --- Language, time, money ------------------------------------------------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True
OSCAR_DEFAULT_CURRENCY = "CNY"
# One money display rule in every language, "¥1,234.50" (marketplace/core/money.py): Oscar's
# ``currency`` filter with "¤" would print the locale's sign, "CN¥" on English pages.
from marketplace.core.money import CNY_DISPLAY_PATTERN  # noqa: E402

OSCAR_CURRENCY_FORMAT = {"CNY": {"format": CNY_DISPLAY_PATTERN}}
OSCAR_SHOP_NAME = "益农直采"
OSCAR_SHOP_TAGLINE = "农资直购 · 村站团购"
OSCAR_HOMEPAGE = "/"
OSCAR_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "noreply@localhost")
OSCAR_ALLOW_ANON_CHECKOUT = False
OSCAR_REQUIRED_ADDRESS_FIELDS = ("first_name", "line1", "line4", "country")
# Order lifecycle (pledge → ordered → shipped → at station → collected / refunded), one pipeline for
# group-buy and shop orders; changes go through marketplace.apps.order.services.change_status.
from marketplace.apps.order import statuses as _order_statuses  # noqa: E402

OSCAR_INITIAL_ORDER_STATUS = _order_statuses.ORDERED
OSCAR_INITIAL_LINE_STATUS = _order_statuses.ORDERED
OSCAR_ORDER_STATUS_PIPELINE = _order_statuses.ORDER_STATUS_PIPELINE
OSCAR_LINE_STATUS_PIPELINE = _order_statuses.LINE_STATUS_PIPELINE
OSCAR_ORDER_STATUS_CASCADE = _order_statuses.ORDER_STATUS_CASCADE
# Supplier portal: Oscar's default menu plus a 供应商中心 group (products, stock, orders, licences,
# warehouses, import); see marketplace/core/dashboard_menu.py.
from marketplace.core.dashboard_menu import with_supplier_menu  # noqa: E402

OSCAR_DASHBOARD_NAVIGATION = with_supplier_menu(OSCAR_DASHBOARD_NAVIGATION)  # noqa: F405

# --- Static and media -----------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = Path(env("STATIC_ROOT", str(VAR_DIR / "static")))
MEDIA_URL = env("MEDIA_URL", "/media/")
MEDIA_ROOT = Path(env("MEDIA_ROOT", str(VAR_DIR / "media")))
# Folders of private files (they live in the private storage below, not in MEDIA_ROOT; files of
# older releases are moved there by data migrations). Never served from MEDIA_URL, DEBUG included.
PRIVATE_MEDIA_PREFIXES = ("licences/", "station-licences/", "imports/", "village-questions/")
# Private files (licence scans, crop photos of questions, pending imports): only authorised views
# hand them out (marketplace/core/storage.py). Must not be inside MEDIA_ROOT.
PRIVATE_MEDIA_ROOT = Path(env("PRIVATE_MEDIA_ROOT", str(VAR_DIR / "private")))
# Catalogue files above this size are imported by a task; the page shows its progress.
IMPORT_INLINE_MAX_BYTES = int(env("IMPORT_INLINE_MAX_BYTES", str(1024 * 1024)))
if not PRODUCTION:  # embedded default: keep runtime files in var/ and make sure the folders exist
    for folder in (VAR_DIR, STATIC_ROOT, MEDIA_ROOT, PRIVATE_MEDIA_ROOT):
        folder.mkdir(parents=True, exist_ok=True)
# Hashed, compressed (Brotli + gzip) static files served by WhiteNoise with far-future caching:
# always in production, and in the embedded server (serve_embedded sets STATIC_MANIFEST=1 and runs
# collectstatic). Without it (development, tests) files come from the apps' folders as they are.
STATIC_MANIFEST = env_bool("STATIC_MANIFEST", PRODUCTION)
WHITENOISE_USE_FINDERS = DEBUG and not STATIC_MANIFEST
WHITENOISE_AUTOREFRESH = DEBUG and not STATIC_MANIFEST
WHITENOISE_MANIFEST_STRICT = False  # a template naming a missing file gets its plain URL, not a 500
# Media served by the app itself (embedded default; production: nginx / object storage).
SERVE_MEDIA = env_bool("MARKETPLACE_SERVE_MEDIA", not PRODUCTION)
MEDIA_STORAGE_BACKEND = env("MEDIA_STORAGE_BACKEND", "django.core.files.storage.FileSystemStorage")
MEDIA_STORAGE_OPTIONS: dict[str, object] = {}
if MEDIA_STORAGE_BACKEND in ("storages.backends.s3.S3Storage", "marketplace.core.storage.S3MediaStorage"):
    # S3-compatible object store (MinIO in deploy/compose.yaml): private bucket, signed URLs. The
    # subclass signs URLs for MEDIA_S3_PUBLIC_ENDPOINT_URL (what browsers reach) when it is set.
    MEDIA_STORAGE_BACKEND = "marketplace.core.storage.S3MediaStorage"
    MEDIA_STORAGE_OPTIONS = {
        "public_endpoint_url": env("MEDIA_S3_PUBLIC_ENDPOINT_URL") or None,
        "bucket_name": env("MEDIA_S3_BUCKET", "marketplace-media"),
        "endpoint_url": env("MEDIA_S3_ENDPOINT_URL") or None,
        "access_key": env("MEDIA_S3_ACCESS_KEY_ID") or None,
        "secret_key": env("MEDIA_S3_SECRET_ACCESS_KEY") or None,
        "region_name": env("MEDIA_S3_REGION", "us-east-1"),
        "default_acl": None,
        "querystring_auth": True,
        "querystring_expire": int(env("MEDIA_S3_URL_EXPIRE_SECONDS", "600")),
        "file_overwrite": False,
        "addressing_style": "path",
        # Signature V4: what MinIO and every AWS region accept for presigned URLs.
        "signature_version": "s3v4",
    }
if MEDIA_STORAGE_BACKEND == "marketplace.core.storage.S3MediaStorage":
    PRIVATE_STORAGE: dict[str, object] = {
        "BACKEND": MEDIA_STORAGE_BACKEND,
        "OPTIONS": {
            **MEDIA_STORAGE_OPTIONS,
            "bucket_name": env("MEDIA_S3_PRIVATE_BUCKET", "marketplace-private"),
            "location": "private",
            # Private files are streamed by the app's views; a signed URL, if one is ever made, is short.
            "querystring_expire": int(env("MEDIA_S3_PRIVATE_URL_EXPIRE_SECONDS", "60")),
        },
    }
else:
    PRIVATE_STORAGE = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(PRIVATE_MEDIA_ROOT), "base_url": None},
    }
if PRIVATE_STORAGE["BACKEND"] == "django.core.files.storage.FileSystemStorage" and (
    PRIVATE_MEDIA_ROOT.resolve() == MEDIA_ROOT.resolve()
    or MEDIA_ROOT.resolve() in PRIVATE_MEDIA_ROOT.resolve().parents
):
    raise ImproperlyConfigured("PRIVATE_MEDIA_ROOT must not be inside MEDIA_ROOT (it would be public)")
STORAGES = {
    # MEDIA_STORAGE_BACKEND may name any Django storage class (e.g. an S3-compatible one).
    "default": {"BACKEND": MEDIA_STORAGE_BACKEND, "OPTIONS": MEDIA_STORAGE_OPTIONS},
    "private": PRIVATE_STORAGE,
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if STATIC_MANIFEST
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

# --- Auth -----------------------------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    # First: refuses locked-out callers before any password is checked (marketplace/core/ratelimits.py).
    "axes.backends.AxesStandaloneBackend",
    "marketplace.accounts.backends.UsernameOrPhoneBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
SESSION_COOKIE_SECURE = PRODUCTION
CSRF_COOKIE_SECURE = PRODUCTION
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if PRODUCTION else None
# HTTPS only in production (nginx terminates TLS and redirects; Django redirects too unless told not to).
SECURE_HSTS_SECONDS = int(env("SECURE_HSTS_SECONDS", "31536000" if PRODUCTION else "0"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=PRODUCTION)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=False)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=PRODUCTION)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_CONTENT_TYPE_NOSNIFF = True

# --- Brute force (marketplace/core/ratelimits.py) ---------------------------------------------
# django-axes on the shared cache: AXES_FAILURE_LIMIT wrong passwords for one username from one
# address lock that pair out for AXES_COOLOFF_MINUTES (the right password is refused meanwhile).
AXES_HANDLER = "axes.handlers.cache.AxesCacheHandler"
AXES_FAILURE_LIMIT = int(env("AXES_FAILURE_LIMIT", "10"))
AXES_COOLOFF_TIME = __import__("datetime").timedelta(minutes=int(env("AXES_COOLOFF_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "marketplace.core.ratelimits.lockout_response"
AXES_CLIENT_IP_CALLABLE = "marketplace.core.ratelimits.client_ip"
AXES_ENABLE_ADMIN = False
AXES_VERBOSE = False
# Reverse proxies in front of the app that append to X-Forwarded-For (nginx: 1). 0: use REMOTE_ADDR.
TRUSTED_PROXY_COUNT = int(env("TRUSTED_PROXY_COUNT", "1" if PRODUCTION else "0"))
RATELIMIT_ENABLE = env_bool("RATELIMIT_ENABLE", default=True)
RATELIMIT_IP_META_KEY = "marketplace.core.ratelimits.client_ip"
# Failed pickup-code lookups per staff account before a pause (django-ratelimit rate syntax).
PICKUP_CODE_FAILURE_RATE = env("PICKUP_CODE_FAILURE_RATE", "10/15m")
SMS_PER_PHONE_RATE = env("SMS_PER_PHONE_RATE", "20/h")
API_TOKEN_TTL_DAYS = int(env("API_TOKEN_TTL_DAYS", "30"))

# --- GraphQL --------------------------------------------------------------------------------
GRAPHENE = {"SCHEMA": "marketplace.graphql.schema.schema", "ATOMIC_MUTATIONS": False}
GRAPHQL_MAX_PAGE_SIZE = 100
# Edge limits (marketplace/graphql/views.py, limits.py, middleware.py).
GRAPHQL_MAX_BODY_BYTES = int(env("GRAPHQL_MAX_BODY_BYTES", "65536"))
GRAPHQL_MAX_TOKENS = int(env("GRAPHQL_MAX_TOKENS", "5000"))
GRAPHQL_MAX_ALIASES = int(env("GRAPHQL_MAX_ALIASES", "30"))
GRAPHQL_MAX_DEPTH = int(env("GRAPHQL_MAX_DEPTH", "10"))
GRAPHQL_MAX_COST = int(env("GRAPHQL_MAX_COST", "1000"))
GRAPHQL_MAX_STRING_LENGTH = int(env("GRAPHQL_MAX_STRING_LENGTH", "10000"))
# Wall-clock budget of one GraphQL request (resolvers stop, PostgreSQL statement_timeout).
GRAPHQL_REQUEST_SECONDS = float(env("GRAPHQL_REQUEST_SECONDS", "20"))
# Introspection and "Did you mean" suggestions for anonymous callers (signed-in users always get them).
GRAPHQL_PUBLIC_INTROSPECTION = env_bool("GRAPHQL_PUBLIC_INTROSPECTION", default=not PRODUCTION)
# Catalogue read responses (products, search, product, categories) cached per query, variables,
# language and viewer, retired by any catalogue change (marketplace/graphql/catalogue/response_cache.py).
# 0 turns the cache off.
GRAPHQL_LISTING_CACHE_SECONDS = int(env("GRAPHQL_LISTING_CACHE_SECONDS", "300"))

# --- Celery ---------------------------------------------------------------------------------
# CELERY_BROKER_URL, e.g. redis://127.0.0.1:6379/0. Without it tasks run in-process, at once.
CELERY_BROKER_URL = env("CELERY_BROKER_URL")
CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND") or None
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1

# --- Search ---------------------------------------------------------------------------------
# ELASTICSEARCH_URL switches product search to Elasticsearch; without it the database is used.
ELASTICSEARCH_URL = env("ELASTICSEARCH_URL")
ELASTICSEARCH_INDEX_PREFIX = env("ELASTICSEARCH_INDEX_PREFIX", "marketplace")
HAYSTACK_CONNECTIONS = {"default": {"ENGINE": "haystack.backends.simple_backend.SimpleEngine"}}
HAYSTACK_SIGNAL_PROCESSOR = "haystack.signals.BaseSignalProcessor"

# --- Payments -------------------------------------------------------------------------------
STRIPE_SECRET_KEY = env("STRIPE_SECRET_KEY")
STRIPE_PUBLISHABLE_KEY = env("STRIPE_PUBLISHABLE_KEY")
STRIPE_WEBHOOK_SECRET = env("STRIPE_WEBHOOK_SECRET")
# Points the Stripe client elsewhere, e.g. at localstripe (http://127.0.0.1:8420) in tests.
STRIPE_API_BASE = env("STRIPE_API_BASE")
# Stripe.js for the card form (online payment is offered on pages only with a publishable key);
# tests point it at localstripe's shim (<localstripe>/js.stripe.com/v3/).
STRIPE_JS_URL = env("STRIPE_JS_URL", "https://js.stripe.com/v3/")

# --- Notifications --------------------------------------------------------------------------
# Dotted path of the SMS gateway; the default records the message in the database and logs only
# that one was sent (never the number or the text: pickup codes must not reach logs).
SMS_BACKEND = env("SMS_BACKEND", "marketplace.core.sms.LoggingSMSBackend")
# Production sends e-mail over SMTP (EMAIL_HOST, EMAIL_PORT, EMAIL_HOST_USER, EMAIL_HOST_PASSWORD,
# EMAIL_USE_TLS); outside production it goes to the console.
EMAIL_BACKEND = env(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if PRODUCTION
    else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_HOST = env("EMAIL_HOST", "localhost")
EMAIL_PORT = int(env("EMAIL_PORT", "25"))
EMAIL_HOST_USER = env("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS")
DEFAULT_FROM_EMAIL = OSCAR_FROM_EMAIL
# The public host of links in e-mails and SMS (password reset, …): the Site row follows it after
# every migrate (marketplace/core/apps.py). Production: the first DJANGO_ALLOWED_HOSTS entry.
SITE_DOMAIN = env("SITE_DOMAIN", ALLOWED_HOSTS[0] if PRODUCTION and ALLOWED_HOSTS else "localhost:8000")

# --- Documents ------------------------------------------------------------------------------
PDF_FONT_FAMILY = env("PDF_FONT_FAMILY", '"Noto Sans CJK SC", "WenQuanYi Micro Hei", sans-serif')

# --- Logs and errors (marketplace/core/logs.py; docs/operations.md) ---------------------------
# LOG_FORMAT=json (default in production): one JSON object per line with a request id; text
# otherwise. Every handler masks phone numbers, ID numbers, codes, tokens and reset links.
from marketplace.core.logs import logging_config  # noqa: E402

LOG_FORMAT = env("LOG_FORMAT", "json" if PRODUCTION else "text")
LOGGING = logging_config(LOG_FORMAT, env("LOG_LEVEL", "INFO"))
CELERY_WORKER_HIJACK_ROOT_LOGGER = False  # the worker logs through LOGGING above
# Optional error reporting through the Sentry SDK (events masked like the logs).
SENTRY_DSN = env("SENTRY_DSN")
if SENTRY_DSN:
    from marketplace.core.logs import init_sentry  # noqa: E402

    init_sentry(
        SENTRY_DSN,
        environment=env("SENTRY_ENVIRONMENT", MARKETPLACE_ENV),
        release=env("SENTRY_RELEASE"),
        traces_sample_rate=float(env("SENTRY_TRACES_SAMPLE_RATE", "0")),
    )

DATA_UPLOAD_MAX_NUMBER_FIELDS = 5000
# Uploads (marketplace/core/uploads.py): images and documents are checked for size and type.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
UPLOAD_MAX_IMAGE_BYTES = int(env("UPLOAD_MAX_IMAGE_BYTES", str(5 * 1024 * 1024)))
UPLOAD_MAX_DOCUMENT_BYTES = int(env("UPLOAD_MAX_DOCUMENT_BYTES", str(5 * 1024 * 1024)))
UPLOAD_MAX_TABLE_BYTES = int(env("UPLOAD_MAX_TABLE_BYTES", str(25 * 1024 * 1024)))


# --- Content-Security-Policy (django-csp) -------------------------------------------------------
# Pages use their own script files (no inline script or handlers) and styles; the card form loads
# Stripe.js, which talks to and frames Stripe.
def content_security_policy(stripe_js_url: str) -> dict:
    """The CSP for pages that may load Stripe.js from ``stripe_js_url`` (tests: localstripe's shim)."""
    stripe = "/".join(stripe_js_url.split("/")[:3])
    return {
        # Oscar's dashboard and Django's admin (staff back office) rely on inline scripts.
        "EXCLUDE_URL_PREFIXES": ["/shop/dashboard/", "/admin/"],
        "DIRECTIVES": {
            "default-src": ["'self'"],
            "script-src": ["'self'", stripe],
            "style-src": ["'self'", "'unsafe-inline'"],
            "img-src": ["'self'", "data:", "blob:"],
            "connect-src": ["'self'", stripe, "https://api.stripe.com"],
            "frame-src": ["'self'", stripe, "https://hooks.stripe.com"],
            "frame-ancestors": ["'self'"],
            "form-action": ["'self'"],
            "base-uri": ["'self'"],
            "object-src": ["'none'"],
        },
    }


CONTENT_SECURITY_POLICY = content_security_policy(STRIPE_JS_URL)

# --- Background jobs (marketplace.core.jobs: route solves, bag plans) ------------------------
# Without a broker: run a job in a background thread of this process (True) or inside the
# request (False: tests). A running job touches its row every JOBS_HEARTBEAT_SECONDS; one silent
# for JOBS_HEARTBEAT_STALE_SECONDS lost its process (restart, killed worker) and is queued again.
JOBS_IN_THREAD = env_bool("JOBS_IN_THREAD", True)
JOBS_HEARTBEAT_SECONDS = float(env("JOBS_HEARTBEAT_SECONDS", "5"))
JOBS_HEARTBEAT_STALE_SECONDS = float(env("JOBS_HEARTBEAT_STALE_SECONDS", "30"))

# --- Group buys (plugins/group_orders; docs/group-orders.md) ----------------------------------
# Database connections a campaign close uses at once (about one per database core).
GROUP_ORDERS_CLOSE_WORKERS = int(env("GROUP_ORDERS_CLOSE_WORKERS", "2"))

# --- Village information service (plugins/village_info; docs/village-info.md) ---------------
# Information SMS (notices) one household receives per day at most.
VILLAGE_INFO_SMS_DAILY_CAP = int(env("VILLAGE_INFO_SMS_DAILY_CAP", "2"))

# --- Delivery routing (plugins/delivery_routing; docs/delivery-routing.md) -------------------
# Travel matrices: "haversine" (great circle × detour factor at an average speed, no server),
# "osrm" or "valhalla" (ROUTING_MATRIX_URL, e.g. http://osrm:5000). Matrices are cached.
ROUTING_MATRIX_PROVIDER = env("ROUTING_MATRIX_PROVIDER", "haversine")
ROUTING_MATRIX_URL = env("ROUTING_MATRIX_URL")
ROUTING_DETOUR_FACTOR = float(env("ROUTING_DETOUR_FACTOR", "1.3"))
ROUTING_AVERAGE_SPEED_KMH = float(env("ROUTING_AVERAGE_SPEED_KMH", "40"))
ROUTING_SOLVE_SECONDS = float(env("ROUTING_SOLVE_SECONDS", "10"))
# Longest solve a dispatcher may ask for (seconds): platform operators, supplier/cooperative users.
# Solves run as a Celery task (without a broker: in a background thread of the web process).
ROUTING_MAX_SOLVE_SECONDS_OPERATOR = float(env("ROUTING_MAX_SOLVE_SECONDS_OPERATOR", "120"))
ROUTING_MAX_SOLVE_SECONDS_PARTNER = float(env("ROUTING_MAX_SOLVE_SECONDS_PARTNER", "30"))
# "Move this stop" re-optimises at once to refuse an infeasible move: kept short.
ROUTING_MOVE_SOLVE_SECONDS = float(env("ROUTING_MOVE_SOLVE_SECONDS", "3"))
# The background-job settings of route solves (marketplace.core.jobs); each defaults to the JOBS_* one.
ROUTING_SOLVE_IN_THREAD = env_bool("ROUTING_SOLVE_IN_THREAD", JOBS_IN_THREAD)
ROUTING_HEARTBEAT_SECONDS = float(env("ROUTING_HEARTBEAT_SECONDS", str(JOBS_HEARTBEAT_SECONDS)))
ROUTING_HEARTBEAT_STALE_SECONDS = float(
    env("ROUTING_HEARTBEAT_STALE_SECONDS", str(JOBS_HEARTBEAT_STALE_SECONDS))
)
# Absolute base of links sent to drivers by SMS (route sheets), e.g. https://yinong.example.cn
ROUTING_PUBLIC_URL = env("ROUTING_PUBLIC_URL")
