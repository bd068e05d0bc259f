"""Customers sign in with e-mail and password or an e-mailed code, after verifying their e-mail;
forgotten passwords are reset by e-mail; no redirect leaves the site; every form wants CSRF."""

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from tests.auth.pages import (
    SIGNUP_PASSWORD,
    code_in_mail,
    link_in_mail,
    sign_in,
    sign_in_by_code,
    sign_up,
    signed_in_user_id,
)
from tests.auth.second_factor import verified_email
from tests.factories import UserFactory

ACCOUNT_HOME = "/account/"


@pytest.fixture
def customer_login(alice):
    verified_email(alice.user)
    return alice.user


def test_a_customer_signs_in_with_e_mail_and_password_and_lands_on_their_account(client, customer_login):
    response = sign_in(client, "alice@example.com")

    assert response.status_code == 302
    assert response["Location"] == ACCOUNT_HOME
    assert signed_in_user_id(client) == str(customer_login.pk)


def test_the_e_mail_is_matched_whatever_its_case(client, customer_login):
    assert sign_in(client, "Alice@Example.COM")["Location"] == ACCOUNT_HOME


def test_a_wrong_password_signs_nobody_in(client, customer_login):
    response = sign_in(client, "alice@example.com", "not the password")

    assert response.status_code == 200
    assert signed_in_user_id(client) is None


def test_a_customer_signs_in_with_a_code_sent_by_e_mail(client, customer_login):
    response = sign_in_by_code(client, "alice@example.com")

    assert response.status_code == 302
    assert response["Location"] == ACCOUNT_HOME
    assert signed_in_user_id(client) == str(customer_login.pk)


def test_a_wrong_code_signs_nobody_in_and_is_logged(client, customer_login, caplog):
    client.post(reverse("account_request_login_code"), {"email": "alice@example.com"})
    right = code_in_mail("alice@example.com")
    wrong = "0" * len(right) if right != "0" * len(right) else "1" * len(right)

    response = client.post(reverse("account_confirm_login_code"), {"code": wrong})

    assert response.status_code == 200
    assert signed_in_user_id(client) is None
    assert "sign-in failed: wrong e-mailed code; login='alice@example.com' ip=127.0.0.1" in caplog.text
    assert right not in caplog.text


def test_an_unverified_e_mail_cannot_sign_in_until_its_link_is_followed(client, db):
    sign_up(client, "li.wei@example.com")
    client.logout()

    refused = sign_in(client, "li.wei@example.com", SIGNUP_PASSWORD)

    assert refused["Location"] == reverse("account_email_verification_sent")
    assert signed_in_user_id(client) is None
    confirm = link_in_mail("li.wei@example.com", "/account/confirm-email/")
    client.post(confirm)
    assert sign_in(client, "li.wei@example.com", SIGNUP_PASSWORD)["Location"] == ACCOUNT_HOME
    assert signed_in_user_id(client) is not None


def test_a_forgotten_password_is_reset_from_the_e_mailed_link(client, customer_login):
    client.post(reverse("account_reset_password"), {"email": "alice@example.com"})
    link = link_in_mail("alice@example.com", "/account/password/reset/key/")

    form_page = client.get(link, follow=True)
    assert form_page.status_code == 200
    set_url = form_page.redirect_chain[-1][0] if form_page.redirect_chain else link
    done = client.post(
        set_url, {"password1": "a brand new pass phrase", "password2": "a brand new pass phrase"}
    )

    assert done.status_code == 302
    assert signed_in_user_id(client) is None  # the link alone opens no session
    assert sign_in(client, "alice@example.com").status_code == 200  # the old one is refused
    assert signed_in_user_id(client) is None
    assert sign_in(client, "alice@example.com", "a brand new pass phrase")["Location"] == ACCOUNT_HOME


def test_a_reset_asked_for_an_unknown_address_tells_nothing_about_who_has_an_account(client, db):
    known_page = client.post(reverse("account_reset_password"), {"email": "nobody@example.com"})

    assert known_page.status_code == 302
    assert signed_in_user_id(client) is None


@pytest.mark.parametrize(
    "next_url",
    [
        "https://evil.example/",
        "//evil.example/account/",
        "http://evil.example",
        "https://evil.example@testserver/",
    ],
)
def test_sign_in_never_redirects_off_the_site(client, customer_login, next_url):
    response = sign_in(client, "alice@example.com", next_url=next_url)

    assert response.status_code == 302
    assert response["Location"] == ACCOUNT_HOME


@pytest.mark.parametrize("next_url", ["https://evil.example/", "//evil.example/"])
def test_sign_in_by_code_never_redirects_off_the_site(client, customer_login, next_url):
    response = sign_in_by_code(client, "alice@example.com", next_url=next_url)

    assert response["Location"] == ACCOUNT_HOME


def test_a_path_on_the_site_is_followed_after_sign_in(client, customer_login):
    assert (
        sign_in(client, "alice@example.com", next_url="/account/profile/")["Location"] == "/account/profile/"
    )


@pytest.mark.parametrize(
    ("url_name", "data"),
    [
        ("account_login", {"login": "alice@example.com", "password": "correct horse battery staple"}),
        (
            "account_signup",
            {"email": "x@example.com", "full_name": "X", "password1": "p" * 12, "password2": "p" * 12},
        ),
        ("account_reset_password", {"email": "alice@example.com"}),
        ("account_request_login_code", {"email": "alice@example.com"}),
    ],
)
def test_every_sign_in_form_refuses_a_post_without_its_csrf_token(customer_login, url_name, data):
    browser = Client(enforce_csrf_checks=True)

    response = browser.post(reverse(url_name), data)

    assert response.status_code == 403
    assert signed_in_user_id(browser) is None
    assert mail.outbox == []


def test_the_sign_in_page_ties_every_label_to_its_input(client, db):
    page = client.get(reverse("account_login")).content.decode()

    for field in ("id_login", "id_password"):
        assert f'for="{field}"' in page and f'id="{field}"' in page


def test_a_login_of_a_customer_shows_the_name_asked_at_signup(client, db):
    sign_up(client, "zhang@example.com", full_name="张伟")

    assert UserFactory._meta.model.objects.get(email="zhang@example.com").first_name == "张伟"
