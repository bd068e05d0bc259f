"""One settings module, read from the environment.

Profiles (DJANGO_ENV): "development" (default: SQLite, in-process tasks, console e-mail,
DEBUG on), "test" (what the test command sets) and "production" (DEBUG off, secret required,
secure cookies, HSTS). DATABASE_URL selects PostgreSQL; CELERY_BROKER_URL a real broker.
"""

import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from reseller.encryption import key_from_secret_key
from reseller.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent

DJANGO_ENV = env_str("DJANGO_ENV", "development")
if DJANGO_ENV not in {"development", "test", "production"}:
    raise ImproperlyConfigured("DJANGO_ENV must be development, test or production")
PRODUCTION = DJANGO_ENV == "production"

DEBUG = env_bool("DJANGO_DEBUG", default=DJANGO_ENV == "development")


def _secret_key() -> str:
    key = env_str("DJANGO_SECRET_KEY")
    if key:
        return key
    if PRODUCTION:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY is required in production")
    # Development: a random key kept beside the project (git-ignored), so sessions
    # survive restarts without a secret ever being committed.
    path = BASE_DIR / ".dev-secret-key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
    return path.read_text().strip()


SECRET_KEY = _secret_key()

ALLOWED_HOSTS = env_list(
    "DJANGO_ALLOWED_HOSTS", default=[] if PRODUCTION else ["127.0.0.1", "localhost", "testserver"]
)
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "reseller.admin_site.BackOfficeAdminConfig",  # django.contrib.admin with work queues
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_celery_beat",
    "allauth",  # sign-in for customers and staff (see "Sign-in" below)
    "allauth.account",
    "allauth.mfa",
    "reseller",
    "accounts",
    "plans",
    "payments",
    "carrier",
    "notifications",
    "rest_framework",  # the partner API (api/)
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and Redoc files, served by us (no CDN)
    "api",
    "webhooks",  # signed webhooks to partners (outbox, deliveries, log)
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "reseller.middleware.RequestIdMiddleware",
]

ROOT_URLCONF = "reseller.urls"
WSGI_APPLICATION = "reseller.wsgi.application"

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
                "django.template.context_processors.i18n",
                "reseller.context_processors.environment",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------------------
# Embedded default: SQLite in the project folder. DATABASE_URL=postgres://… for PostgreSQL
# (psycopg 3), which is what production and CI use.
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL") or f"sqlite:///{env_str('SQLITE_PATH', str(BASE_DIR / 'db.sqlite3'))}",
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60 if PRODUCTION else 0),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Wait for a concurrent writer instead of failing at once ("database is locked").
    # IMMEDIATE: a transaction that reads then writes takes the write lock up front, so it
    # waits for another writer (up to the timeout) instead of failing with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(timeout=20, transaction_mode="IMMEDIATE")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

if DJANGO_ENV == "test":
    # Tests log in hundreds of times; PBKDF2's million iterations would dominate the run.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Internationalisation -------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [
    ("en", _("English")),
    ("fr", _("French")),
    ("zh-hans", _("Simplified Chinese")),
]
LOCALE_PATHS = [BASE_DIR / "locale"]
LANGUAGE_COOKIE_AGE = 365 * 24 * 3600  # the language switch remembers the choice for a year
USE_I18N = True
USE_TZ = True  # stored in UTC; shown in the viewer's zone
TIME_ZONE = env_str("DJANGO_TIME_ZONE", "Europe/Paris")

# --- Static files -------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"

# --- E-mail ---------------------------------------------------------------------------------
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    {
        "production": "django.core.mail.backends.smtp.EmailBackend",
        "test": "django.core.mail.backends.locmem.EmailBackend",  # mail.outbox, as in Django's runner
    }.get(DJANGO_ENV, "django.core.mail.backends.console.EmailBackend"),
)
# Where the file-based backend (EMAIL_BACKEND=django.core.mail.backends.filebased.EmailBackend,
# as `make day` uses) writes each message.
EMAIL_FILE_PATH = env_str("EMAIL_FILE_PATH") or None
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
# Without a timeout a stalled SMTP server would hold a worker forever.
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "SIM Reseller <no-reply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Cache -----------------------------------------------------------------------------------
# Nothing relies on the cache for correctness; Redis is shared between processes when set.
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Celery -----------------------------------------------------------------------------------
# Without a broker, tasks run in-process at .delay() time (eager), so the embedded default
# needs no worker. Tasks are still enqueued only after commit (transaction.on_commit).
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL")
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", default=not CELERY_BROKER_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND") or None
CELERY_TASK_ACKS_LATE = True  # a worker killed mid-task leaves the message for another
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = "UTC"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Periodic tasks live in the database (django-celery-beat), editable by Managers in the admin;
# reseller/migrations creates the defaults. Run exactly one beat process.
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"

# Fault injection (reseller/faults.py, tests/faults): where tests arm the fault points that
# kill the process or drop its database session. Only the test profile accepts it.
FAULT_INJECTION_DIR = env_str("FAULT_INJECTION_DIR")
if FAULT_INJECTION_DIR and DJANGO_ENV != "test":
    raise ImproperlyConfigured("FAULT_INJECTION_DIR is for the test profile only")

# --- Domain settings ----------------------------------------------------------------------------
CARRIER_BACKEND = env_str("CARRIER_BACKEND", "carrier.sandbox.SandboxCarrier")
CARRIER_SANDBOX_LATENCY_MS = env_int("CARRIER_SANDBOX_LATENCY_MS", 0)
# A paid renewal not active after this long is retried by the sweep; after the second it is
# escalated to staff (customers are told to call support after 24 hours).
ACTIVATION_RETRY_AFTER_MINUTES = env_int("ACTIVATION_RETRY_AFTER_MINUTES", 15)
ACTIVATION_ESCALATE_AFTER_HOURS = env_int("ACTIVATION_ESCALATE_AFTER_HOURS", 24)
# An attempt still running after this long is presumed lost (worker killed) and may be redone.
ACTIVATION_ATTEMPT_TIMEOUT_SECONDS = env_int("ACTIVATION_ATTEMPT_TIMEOUT_SECONDS", 120)
RESELLER_DEFAULT_CURRENCY = env_str("RESELLER_DEFAULT_CURRENCY", "EUR")
# Changelists above this many rows show an estimate instead of an exact COUNT(*).
ADMIN_EXACT_COUNT_LIMIT = env_int("ADMIN_EXACT_COUNT_LIMIT", 10_000)
# Public address of the site, for links in e-mails and SMS (no trailing slash).
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")
# Notifications (e-mail and SMS). A send that failed, or a message whose send task was lost,
# is retried by the resend job once it is this old, up to NOTIFICATION_MAX_ATTEMPTS tries.
NOTIFICATION_RESEND_AFTER_MINUTES = env_int("NOTIFICATION_RESEND_AFTER_MINUTES", 10)
NOTIFICATION_MAX_ATTEMPTS = env_int("NOTIFICATION_MAX_ATTEMPTS", 8)
# "Your line has expired" goes only to lines that expired this recently (no burst of old
# news on the first run after a deploy or an outage).
NOTIFICATION_EXPIRED_LOOKBACK_HOURS = env_int("NOTIFICATION_EXPIRED_LOOKBACK_HOURS", 48)
# SMS: kept in memory in tests (notifications.sms.outbox, whatever else is configured), sent
# through Twilio when its account is configured, else printed.
TWILIO_ACCOUNT_SID = env_str("TWILIO_ACCOUNT_SID")
TWILIO_AUTH_TOKEN = env_str("TWILIO_AUTH_TOKEN")
TWILIO_FROM = env_str("TWILIO_FROM")  # our E.164 sender number
TWILIO_API_BASE = env_str("TWILIO_API_BASE", "https://api.twilio.com").rstrip("/")
if DJANGO_ENV == "test":
    _SMS_DEFAULT = "notifications.sms.LocmemSmsBackend"
elif TWILIO_ACCOUNT_SID:
    _SMS_DEFAULT = "notifications.sms.TwilioSmsBackend"
else:
    _SMS_DEFAULT = "notifications.sms.ConsoleSmsBackend"
SMS_BACKEND = env_str("SMS_BACKEND", _SMS_DEFAULT)

# Stripe: every call goes through payments/stripe_gateway.py. Test-mode keys by default; with
# no key in development the README's run command starts the local Stripe peer
# (scripts/stripe-peer) and sets STRIPE_API_BASE to it.
STRIPE_SECRET_KEY = env_str("STRIPE_SECRET_KEY", "sk_test_local_peer" if not PRODUCTION else "")
STRIPE_PUBLISHABLE_KEY = env_str("STRIPE_PUBLISHABLE_KEY", "pk_test_local_peer" if not PRODUCTION else "")
STRIPE_WEBHOOK_SECRET = env_str("STRIPE_WEBHOOK_SECRET", "whsec_local_peer" if not PRODUCTION else "")
# Our Stripe account id (acct_…): events from any other account are logged and ignored.
STRIPE_ACCOUNT_ID = env_str("STRIPE_ACCOUNT_ID")
# Empty: Stripe itself. Set to the local peer's address (http://127.0.0.1:8420) in tests/demo.
STRIPE_API_BASE = env_str("STRIPE_API_BASE").rstrip("/")
STRIPE_JS_URL = env_str("STRIPE_JS_URL", "https://js.stripe.com/v3/")
# Network retries of one Stripe call (each retry reuses the call's idempotency key).
STRIPE_MAX_NETWORK_RETRIES = env_int("STRIPE_MAX_NETWORK_RETRIES", 2)
# Seconds before a Stripe call gives up waiting (its outcome is then unknown: retried under the
# same idempotency key, or learnt from the webhook or the reconciliation).
STRIPE_TIMEOUT_SECONDS = env_int("STRIPE_TIMEOUT_SECONDS", 30)
# Webhook events signed further from now than this (past or future) are refused.
STRIPE_WEBHOOK_TOLERANCE_SECONDS = env_int("STRIPE_WEBHOOK_TOLERANCE_SECONDS", 300)
# An event stored but not processed after this long (its task lost) is processed by the sweep.
PROVIDER_EVENT_RETRY_AFTER_MINUTES = env_int("PROVIDER_EVENT_RETRY_AFTER_MINUTES", 5)
# Refunds: in full within this many hours of purchase, else pro rata of what is unused.
REFUND_FULL_WITHIN_HOURS = env_int("REFUND_FULL_WITHIN_HOURS", 24)

# Auto-renew: lines whose paid period ends within this many hours are renewed by charging
# their saved card. A failed charge is retried after these many days (never after the line's
# expiry plus the grace period), and the customer is told at the first failure.
AUTO_RENEW_WINDOW_HOURS = env_int("AUTO_RENEW_WINDOW_HOURS", 48)
DUNNING_RETRY_DAYS = [int(days) for days in env_list("DUNNING_RETRY_DAYS", ["1", "3", "5"])]
DUNNING_GRACE_HOURS = env_int("DUNNING_GRACE_HOURS", 72)

# Four eyes: balance and expiry adjustments up to these sizes are applied by the agent alone;
# larger ones wait for a Manager's approval.
CORRECTION_SELF_APPROVE_MAX_DATA_MB = env_int("CORRECTION_SELF_APPROVE_MAX_DATA_MB", 1000)
CORRECTION_SELF_APPROVE_MAX_MINUTES = env_int("CORRECTION_SELF_APPROVE_MAX_MINUTES", 60)
CORRECTION_SELF_APPROVE_MAX_SMS = env_int("CORRECTION_SELF_APPROVE_MAX_SMS", 50)
CORRECTION_SELF_APPROVE_MAX_DAYS = env_int("CORRECTION_SELF_APPROVE_MAX_DAYS", 3)

# The seller printed on receipts (French invoices and receipts need the legal name, address,
# VAT number and SIRET). The defaults are the demo's; set them in production.
RECEIPT_SELLER_NAME = env_str("RECEIPT_SELLER_NAME", "SIM Voyage SAS (demo)")
RECEIPT_SELLER_ADDRESS = env_str(
    "RECEIPT_SELLER_ADDRESS", "12 rue de l'Exemple\n75001 Paris\nFrance"
).replace("\\n", "\n")
RECEIPT_SELLER_VAT_NUMBER = env_str("RECEIPT_SELLER_VAT_NUMBER", "FR00 123456789")
RECEIPT_SELLER_SIRET = env_str("RECEIPT_SELLER_SIRET", "123 456 789 00012")
RECEIPT_SELLER_EMAIL = env_str("RECEIPT_SELLER_EMAIL", "support@example.com")
# Fonts for characters the bundled receipt font lacks (comma-separated paths; path#N is face N
# of a .ttc). Empty: the full CJK fonts Debian and Ubuntu install, when present.
if env_list("RECEIPT_FALLBACK_FONTS"):
    RECEIPT_FALLBACK_FONTS = env_list("RECEIPT_FALLBACK_FONTS")

# --- Sign-in (django-allauth) ---------------------------------------------------------------
# Customers sign in with their e-mail and password or a code sent by e-mail; staff with their
# username or e-mail, then a second factor (TOTP app or recovery code) before any admin page.
# Django's and allauth's backends, loading with the user whether they hold a TOTP authenticator
# (one query per request for both, accounts/auth_backends.py).
AUTHENTICATION_BACKENDS = [
    "accounts.auth_backends.ModelBackend",
    "accounts.auth_backends.AuthenticationBackend",
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "/account/"
ACCOUNT_ADAPTER = "accounts.signin.AccountAdapter"
MFA_ADAPTER = "accounts.signin.MFAAdapter"
MFA_FORMS = {"authenticate": "accounts.signin.AuthenticateForm"}
ACCOUNT_FORMS = {"confirm_login_code": "accounts.signin.ConfirmLoginCodeForm"}
ACCOUNT_LOGIN_METHODS = {"email", "username"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_SIGNUP_FORM_CLASS = "accounts.signup_form.SignupForm"  # adds the customer's name
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_LOGIN_BY_CODE_ENABLED = True
ACCOUNT_LOGIN_ON_PASSWORD_RESET = False  # a reset link alone never opens a session
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_EMAIL_SUBJECT_PREFIX = ""
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "https" if PRODUCTION else "http"
# Every form is rate-limited, counted in the Django cache (Redis when REDIS_URL is set, so the
# limits hold across web processes). "ip" counts per client address, "key" per e-mail or
# username tried, "user" per signed-in user.
ACCOUNT_RATE_LIMITS = {
    "login": "30/m/ip",
    "login_failed": "10/m/ip,5/5m/key",
    "signup": "20/m/ip",
    "request_login_code": "20/m/ip,3/m/key",
    "confirm_email": "1/3m/key",
    "reset_password": "20/m/ip,5/m/key",
    "reset_password_from_key": "20/m/ip",
    "change_password": "5/m/user",
    "manage_email": "10/m/user",
    "reauthenticate": "10/m/user",
}
# Behind a reverse proxy every request comes from the proxy: count the proxies that append to
# X-Forwarded-For so rate limits and logs see the client's address.
ALLAUTH_TRUSTED_PROXY_COUNT = env_int("ALLAUTH_TRUSTED_PROXY_COUNT", 0)
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = env_str("MFA_TOTP_ISSUER", "SIM reseller back office")
# Staff reach the admin only after a second factor. The embedded demo (scripts/run) may turn
# this off, and its sign-in page then says so; production refuses to (see accounts/checks.py).
STAFF_REQUIRE_SECOND_FACTOR = env_bool("STAFF_REQUIRE_SECOND_FACTOR", True)
if PRODUCTION and not STAFF_REQUIRE_SECOND_FACTOR:
    raise ImproperlyConfigured("STAFF_REQUIRE_SECOND_FACTOR cannot be turned off in production")

# --- Partner API (api/, /api/v1/) -------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["api.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["api.permissions.ScopeAndRole"],
    "DEFAULT_THROTTLE_CLASSES": ["api.throttling.ApiKeyRateThrottle"],
    "DEFAULT_PAGINATION_CLASS": "api.pagination.ApiCursorPagination",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "api.problems.problem_exception_handler",
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_METADATA_CLASS": None,
    "COERCE_DECIMAL_TO_STRING": True,
}
# Requests per minute and API key (a key may have its own limit); on the Django cache, which
# is Redis, shared by every process, when REDIS_URL is set.
API_RATE_LIMIT_PER_MINUTE = env_int("API_RATE_LIMIT_PER_MINUTE", 600)
# Stored answers to POSTs are replayed for a retry with the same Idempotency-Key this long.
API_IDEMPOTENCY_RETENTION_HOURS = env_int("API_IDEMPOTENCY_RETENTION_HOURS", 48)
SPECTACULAR_SETTINGS = {
    "TITLE": "SIM reseller partner API",
    "DESCRIPTION": "Plans, customers, lines, renewals and refunds for partners and the reseller's own "
    "tools. Errors are RFC 9457 problem details; every POST takes an Idempotency-Key. See docs/api.md.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "ENUM_NAME_OVERRIDES": {
        "SimKindEnum": "accounts.models.SimLineKind",
        "RefundReasonEnum": "payments.models.RefundReason",
        "CorrectionReasonEnum": "accounts.models.CorrectionReason",
    },
}

# --- Webhooks to partners (webhooks/) ---------------------------------------------------------
# A delivery waits this long for the partner's answer; anything but a 2xx is retried after
# these many minutes (the last one repeated), plus up to WEBHOOK_RETRY_JITTER of the delay, for
# WEBHOOK_RETRY_FOR_HOURS after the event, then marked failed.
WEBHOOK_TIMEOUT_SECONDS = env_int("WEBHOOK_TIMEOUT_SECONDS", 10)
WEBHOOK_RETRY_MINUTES = [
    int(minutes) for minutes in env_list("WEBHOOK_RETRY_MINUTES", ["1", "5", "30", "120", "300", "600"])
]
WEBHOOK_RETRY_FOR_HOURS = env_int("WEBHOOK_RETRY_FOR_HOURS", 72)
WEBHOOK_RETRY_JITTER = float(env_str("WEBHOOK_RETRY_JITTER", "0.1"))
# Endpoints must be https, except http://127.0.0.1 or localhost outside production.
WEBHOOK_ALLOW_LOCAL_HTTP = env_bool("WEBHOOK_ALLOW_LOCAL_HTTP", default=not PRODUCTION)

# --- Secrets stored encrypted (reseller/encryption.py) -----------------------------------------
# Comma-separated Fernet keys: the first encrypts, every one decrypts. Rotation: put a new key
# first, run `manage.py webhook_secrets_reencrypt`, then drop the old key. Outside production
# the default is a key derived from SECRET_KEY; production must set it (deploy check).
FIELD_ENCRYPTION_KEYS = env_list("FIELD_ENCRYPTION_KEYS")
if not FIELD_ENCRYPTION_KEYS and not PRODUCTION:
    FIELD_ENCRYPTION_KEYS = [key_from_secret_key(SECRET_KEY)]

# --- Security (production profile) ----------------------------------------------------------------
if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
    SECURE_REFERRER_POLICY = "same-origin"
    X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}
