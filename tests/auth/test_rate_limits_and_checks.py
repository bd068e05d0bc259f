"""Sign-in forms are rate-limited and failures are logged without secrets; production never
lets staff in without a second factor."""

import pytest
from django.core import mail
from django.core.checks import Error
from django.test import Client
from django.urls import reverse

from accounts.checks import staff_second_factor_required
from tests.auth.pages import PASSWORD, sign_in, signed_in_user_id
from tests.auth.second_factor import verified_email
from tests.reseller.test_settings_profiles import settings_in

PRODUCTION = {
    "DJANGO_ENV": "production",
    "DJANGO_SECRET_KEY": "x" * 60,
    "DJANGO_ALLOWED_HOSTS": "bo.example.com",
}


@pytest.fixture
def customer_login(alice):
    verified_email(alice.user)
    return alice.user


def test_five_wrong_passwords_lock_the_login_even_for_the_right_one_and_are_logged(
    client, customer_login, caplog
):
    wrong = [f"guess number {n}" for n in range(5)]
    for password in wrong:
        assert sign_in(client, "alice@example.com", password).status_code == 200

    refused = sign_in(client, "alice@example.com", PASSWORD)

    assert refused.status_code == 200
    assert "Too many failed login attempts" in refused.content.decode()
    assert signed_in_user_id(client) is None
    failures = [r.getMessage() for r in caplog.records if r.name == "accounts.signin"]
    assert failures == [
        *["sign-in failed: wrong login or password; login='alice@example.com' ip=127.0.0.1"] * 5,
        "sign-in failed: too many failed attempts, refused; login='alice@example.com' ip=127.0.0.1",
    ]
    assert not any(password in caplog.text for password in [*wrong, PASSWORD])


def test_the_lock_is_per_login_another_customer_still_signs_in(client, customer_login, bob):
    verified_email(bob.user)
    for n in range(5):
        sign_in(client, "alice@example.com", f"guess {n}")

    assert sign_in(client, "bob@example.com")["Location"] == "/account/"


def test_a_flood_of_sign_in_posts_from_one_address_is_answered_429(client, db):
    statuses = [sign_in(client, f"someone{n}@example.com", "x").status_code for n in range(31)]

    assert statuses[:30] == [200] * 30
    assert statuses[30] == 429


def test_the_429_page_is_ours_and_translated(client, db):
    for n in range(30):
        sign_in(client, f"someone{n}@example.com", "x")

    response = sign_in(client, "someone@example.com", "x", headers={"Accept-Language": "fr"})

    assert response.status_code == 429
    assert '<html lang="fr"' in response.content.decode()


def test_sign_in_codes_are_limited_per_address(customer_login):
    def ask_from_a_new_browser():
        return Client().post(reverse("account_request_login_code"), {"email": "alice@example.com"})

    for _ in range(3):
        ask_from_a_new_browser()
    sent = len(mail.outbox)

    ask_from_a_new_browser()

    assert sent == 3
    assert len(mail.outbox) == 3


def test_password_reset_mails_are_limited_per_address(client, customer_login):
    statuses = [
        client.post(reverse("account_reset_password"), {"email": "alice@example.com"}).status_code
        for _ in range(6)
    ]

    assert len(mail.outbox) == 5
    assert statuses[5] in (200, 429)


def test_the_deploy_check_refuses_production_without_the_staff_second_factor(settings):
    settings.PRODUCTION = True
    settings.STAFF_REQUIRE_SECOND_FACTOR = False

    problems = staff_second_factor_required(None)

    assert [(type(p), p.id) for p in problems] == [(Error, "accounts.E001")]


def test_the_deploy_check_is_quiet_when_staff_need_the_second_factor(settings):
    settings.PRODUCTION = True
    settings.STAFF_REQUIRE_SECOND_FACTOR = True

    assert staff_second_factor_required(None) == []


def test_production_settings_refuse_to_start_with_the_second_factor_off():
    result = settings_in(
        {**PRODUCTION, "STAFF_REQUIRE_SECOND_FACTOR": "false"}, "s.STAFF_REQUIRE_SECOND_FACTOR"
    )

    assert result.returncode != 0
    assert "STAFF_REQUIRE_SECOND_FACTOR cannot be turned off in production" in result.stderr


def test_production_sign_in_cookies_are_secure_and_links_use_https():
    result = settings_in(
        PRODUCTION,
        "s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SESSION_COOKIE_HTTPONLY,"
        " s.ACCOUNT_DEFAULT_HTTP_PROTOCOL, s.STAFF_REQUIRE_SECOND_FACTOR",
    )

    assert result.stdout.strip() == "True True True https True", result.stderr
