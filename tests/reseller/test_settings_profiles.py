"""Settings come from the environment: the embedded default, PostgreSQL, a broker, production."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache
from django.urls import reverse

from accounts.models import AuditEntry, Customer
from tests.auth.second_factor import login_staff

ROOT = Path(__file__).resolve().parents[2]
CLEAN = {
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "REDIS_URL",
    "DJANGO_ENV",
    "DJANGO_SECRET_KEY",
    "DJANGO_ALLOWED_HOSTS",
}


def settings_in(env: dict[str, str], expression: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in CLEAN}
    code = (
        "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'reseller.settings');"
        f"django.setup(); from django.conf import settings as s; print({expression})"
    )
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env={**base, **env}, capture_output=True, text=True
    )


def test_production_refuses_to_start_without_a_secret_key():
    result = settings_in({"DJANGO_ENV": "production"}, "s.DEBUG")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is required in production" in result.stderr


def test_production_profile_turns_on_the_secure_settings():
    result = settings_in(
        {"DJANGO_ENV": "production", "DJANGO_SECRET_KEY": "x" * 60, "DJANGO_ALLOWED_HOSTS": "bo.example.com"},
        "s.DEBUG, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE,"
        " s.SECURE_HSTS_SECONDS > 0, s.SECURE_SSL_REDIRECT",
    )
    assert result.stdout.strip() == "False True True True True", result.stderr


def test_database_url_selects_postgresql_through_psycopg():
    result = settings_in(
        {"DATABASE_URL": "postgres://u:p@db.internal:5432/reseller"},
        "s.DATABASES['default']['ENGINE'], s.DATABASES['default']['HOST']",
    )
    assert result.stdout.strip() == "django.db.backends.postgresql db.internal", result.stderr


def test_a_broker_url_turns_off_in_process_tasks():
    result = settings_in({"CELERY_BROKER_URL": "redis://127.0.0.1:6379/1"}, "s.CELERY_TASK_ALWAYS_EAGER")
    assert result.stdout.strip() == "False", result.stderr


def test_a_malformed_boolean_is_refused_with_its_name():
    result = settings_in({"DJANGO_DEBUG": "maybe"}, "s.DEBUG")
    assert result.returncode != 0
    assert "DJANGO_DEBUG must be a boolean" in result.stderr


def test_the_cache_is_redis_when_redis_url_is_set():
    if not settings.REDIS_URL:
        pytest.skip("REDIS_URL not set (the test command sets it when Redis answers; CI always)")
    assert settings.CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache"
    cache.set("settings-test", {"ok": 1}, 5)
    assert cache.get("settings-test") == {"ok": 1}
    cache.delete("settings-test")


def test_health_endpoint_answers_when_the_database_does(client, db):
    response = client.get(reverse("health"))
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_audit_entries_carry_the_request_id_of_the_request_that_made_them(client, support_agent):
    login_staff(client, support_agent)
    data = {
        "full_name": "Chen Jing",
        "email": "chen@example.com",
        "phone": "",
        "language": "zh-hans",
        "timezone": "Asia/Shanghai",
        "currency": "CNY",
        "country": "",
        "lines-TOTAL_FORMS": "0",
        "lines-INITIAL_FORMS": "0",
    }
    response = client.post(
        reverse("admin:accounts_customer_add"), data, headers={"X-Request-Id": "desk-ticket-4711"}
    )
    assert response.status_code == 302
    assert response["X-Request-Id"] == "desk-ticket-4711"
    entry = AuditEntry.objects.get(object_id=str(Customer.objects.get().pk))
    assert entry.request_id == "desk-ticket-4711"


def test_an_unsafe_request_id_is_replaced(client, db):
    response = client.get(reverse("health"), headers={"X-Request-Id": "bad id\nwith newline"})
    assert response["X-Request-Id"] != "bad id\nwith newline"
    assert len(response["X-Request-Id"]) == 32


def test_deploy_checks_ask_for_stripe_keys_in_production(settings):
    from payments.checks import stripe_configured

    settings.STRIPE_SECRET_KEY = ""
    settings.STRIPE_WEBHOOK_SECRET = ""
    assert {w.id for w in stripe_configured(None)} == {"payments.W001"}
    settings.STRIPE_SECRET_KEY = "sk_live_x"
    settings.STRIPE_PUBLISHABLE_KEY = "pk_live_x"
    settings.STRIPE_WEBHOOK_SECRET = "whsec_x"
    settings.STRIPE_API_BASE = "http://127.0.0.1:8420"
    assert [w.id for w in stripe_configured(None)] == ["payments.W002"]
    settings.STRIPE_API_BASE = ""
    assert stripe_configured(None) == []
