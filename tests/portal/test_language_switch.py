"""The language switch: every customer page in Chinese, English or French; for a signed-in
customer the choice is also the language of their e-mails. It never redirects off-site."""

import pytest
from django.conf import settings
from django.urls import reverse

from accounts.models import AuditEntry, Customer


@pytest.mark.parametrize(
    ("language", "word"), [("fr", "Vos lignes"), ("zh-hans", "您的线路"), ("en", "Your lines")]
)
def test_a_customer_switches_language_and_their_pages_and_emails_follow(
    client, alice, compiled_catalogues, language, word
):
    Customer.objects.filter(pk=alice.pk).update(language="en" if language != "en" else "fr")
    client.force_login(alice.user)
    response = client.post(reverse("language"), {"language": language, "next": reverse("account:overview")})
    assert response["Location"] == reverse("account:overview")
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == language
    assert word in client.get(reverse("account:overview")).content.decode()
    assert Customer.objects.get(pk=alice.pk).language == language
    assert AuditEntry.objects.get(action="customer.profile_updated").changes["language"][1] == language


def test_a_customer_without_a_choice_on_this_device_reads_their_own_language(
    client, bob, compiled_catalogues
):
    client.force_login(bob.user)  # Bob's language is Chinese
    assert "您的线路" in client.get(reverse("account:overview"), HTTP_ACCEPT_LANGUAGE="en").content.decode()


def test_a_visitor_switches_language_without_an_account(client, db):
    response = client.post(reverse("language"), {"language": "fr", "next": "/account/login/"})
    assert response["Location"] == "/account/login/"
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "fr"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "javascript:alert(1)"])
def test_the_switch_never_sends_anyone_off_site(client, db, target):
    response = client.post(reverse("language"), {"language": "fr", "next": target})
    assert response["Location"] == "/"


def test_an_unknown_language_changes_nothing(client, alice):
    client.force_login(alice.user)
    response = client.post(reverse("language"), {"language": "de", "next": "/account/"})
    assert settings.LANGUAGE_COOKIE_NAME not in response.cookies
    assert Customer.objects.get(pk=alice.pk).language == "fr"


def test_the_switch_is_on_every_customer_page(client, alice):
    assert 'action="/language/"' in client.get(reverse("account_login")).content.decode()
    client.force_login(alice.user)
    for url in [reverse("account:overview"), reverse("account:profile"), reverse("account:receipts")]:
        assert 'action="/language/"' in client.get(url).content.decode(), url
