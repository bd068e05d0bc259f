"""The customer's profile pages: they fix what they may alone, confirm a new e-mail or phone
by code, ask for what only staff change and read the answer; nobody else's data shows."""

import re

import pytest
from django.urls import reverse

from accounts.corrections import correction_decide
from accounts.models import AuditEntry, Correction, Customer
from reseller.actors import Actor
from tests.factories import SimLineFactory, UserFactory

PROFILE = {
    "full_name": "Alice Martín",
    "address_line1": "1 rue de Rivoli",
    "address_line2": "",
    "postal_code": "75001",
    "city": "Paris",
    "country": "FR",
    "language": "fr",
    "timezone": "Europe/Paris",
}


@pytest.fixture
def signed_in(client, alice, settings):
    client.force_login(alice.user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"  # Alice's own language is French
    return client


def test_the_profile_pages_ask_for_a_login(client, db):
    for name in ["account:profile", "account:correction_requests"]:
        response = client.get(reverse(name))
        assert response.status_code == 302 and "/account/login/" in response["Location"]


def test_a_login_without_a_customer_record_sees_no_data_and_is_told_why(client, db, settings):
    client.force_login(UserFactory(username="stranger"))
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    for name in ["account:overview", "account:profile", "account:receipts"]:
        page = client.get(reverse(name))
        assert page.status_code == 200 and "not linked to your customer account yet" in page.content.decode()
        assert "form" not in page.content.decode().split("<main", 1)[1]


def test_a_customer_saves_their_address_and_name_spelling(signed_in, alice):
    response = signed_in.post(reverse("account:profile"), PROFILE)
    assert response.status_code == 302
    alice.refresh_from_db()
    assert (alice.full_name, alice.city, alice.postal_code) == ("Alice Martín", "Paris", "75001")
    assert AuditEntry.objects.get(action="customer.profile_updated").actor_user == alice.user


def test_protected_fields_sent_with_the_profile_are_ignored(signed_in, alice):
    signed_in.post(reverse("account:profile"), {**PROFILE, "legal_name": "X", "email": "x@example.com"})
    alice.refresh_from_db()
    assert (alice.legal_name, alice.email) == ("", "alice@example.com")


def test_a_bad_value_shows_a_translated_error_and_saves_nothing(signed_in, alice):
    response = signed_in.post(
        reverse("account:profile"), {**PROFILE, "timezone": "Mars/Olympus"}, HTTP_ACCEPT_LANGUAGE="fr"
    )
    assert response.status_code == 200
    assert response.context["form"].errors["timezone"]
    alice.refresh_from_db()
    assert alice.city == ""


def test_a_new_email_is_used_once_the_code_sent_to_it_is_typed(
    signed_in, alice, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in.post(
            reverse("account:contact_change", args=["email"]), {"value": "alice.m@example.com"}
        )
    assert response["Location"] == reverse("account:contact_confirm", args=["email"])
    page = signed_in.get(response["Location"]).content.decode()
    assert "alice.m@example.com" in page
    code = re.search(r"\d{6}", mailoutbox[0].body).group(0)
    wrong = signed_in.post(response["Location"], {"code": "000000" if code != "000000" else "111111"})
    assert wrong.status_code == 200 and wrong.context["form"].errors["code"]
    assert Customer.objects.get(pk=alice.pk).email == "alice@example.com"
    signed_in.post(response["Location"], {"code": code})
    assert Customer.objects.get(pk=alice.pk).email == "alice.m@example.com"


def test_an_unknown_contact_field_is_not_found(signed_in):
    assert signed_in.get("/account/profile/contact/legal_name/").status_code == 404


def test_a_request_shows_as_waiting_then_with_staffs_answer(signed_in, alice, support_agent, plan):
    line = SimLineFactory(customer=alice, plan=plan)
    url = reverse("account:correction_requests")
    response = signed_in.post(
        url, {"field": "msisdn", "line": line.pk, "value": "06 98 76 54 32", "comment": "ported"}
    )
    assert response.status_code == 302
    request = Correction.objects.get()
    assert (request.status, request.after) == ("requested", {"msisdn": "+33698765432"})
    assert "Requested" in signed_in.get(url).content.decode()

    correction_decide(
        correction=request, approve=False, comment="Port-in not possible.", actor=Actor.staff(support_agent)
    )
    page = signed_in.get(url).content.decode()
    assert "Rejected" in page and "Port-in not possible." in page


def test_a_customer_cannot_ask_about_another_customers_line(signed_in, bob, plan):
    bobs_line = SimLineFactory(customer=bob, plan=plan)
    response = signed_in.post(
        reverse("account:correction_requests"),
        {"field": "msisdn", "line": bobs_line.pk, "value": "+33698765432", "comment": ""},
    )
    assert response.status_code == 200 and response.context["form"].errors["line"]
    assert not Correction.objects.exists()


def test_a_customer_sees_only_their_own_requests(client, alice, bob):
    from accounts.details import correction_request_create

    correction_request_create(
        customer=bob,
        field="legal_name",
        value="WANG Bob",
        comment="bob's secret",
        actor=Actor.customer(bob.user),
    )
    client.force_login(alice.user)
    assert "bob's secret" not in client.get(reverse("account:correction_requests")).content.decode()
    assert "WANG" not in client.get(reverse("account:correction_requests")).content.decode()
