"""A signup meets the customer record staff keep under its e-mail only once the e-mail is
verified: one record is linked, several are left for staff to choose, none gives a new one."""

import pytest
from django.contrib.auth import get_user_model

from accounts.customer_login import customer_login_link
from accounts.models import AuditEntry, Customer
from reseller.actors import Actor
from tests.auth.pages import confirm_email_from_mail, sign_up
from tests.factories import CustomerFactory, UserFactory

User = get_user_model()


def login_of(email: str):
    return User.objects.get(email=email)


def test_signing_up_with_a_customers_e_mail_links_nothing_before_it_is_verified(client, db):
    customer = CustomerFactory(email="Chen.Jing@Example.com", full_name="Chen Jing")

    sign_up(client, "chen.jing@example.com")

    customer.refresh_from_db()
    assert customer.user is None
    assert AuditEntry.objects.filter(action__startswith="customer.").count() == 0


def test_verifying_the_e_mail_links_the_login_to_the_customer_whatever_the_case(client, db):
    customer = CustomerFactory(email="Chen.Jing@Example.com", full_name="Chen Jing")
    sign_up(client, "chen.jing@example.com")

    confirm_email_from_mail(client, "chen.jing@example.com")

    customer.refresh_from_db()
    assert customer.user == login_of("chen.jing@example.com")
    assert Customer.objects.count() == 1
    entry = AuditEntry.objects.get(action="customer.login_linked")
    assert (entry.object_id, entry.actor_kind, entry.actor_user_id) == (
        str(customer.pk),
        "customer",
        customer.user_id,
    )
    assert entry.reason == "e-mail verified at signup"
    assert entry.changes == {"user": [None, customer.user_id]}


def test_when_several_customers_share_the_e_mail_none_is_linked_and_each_is_flagged_for_staff(client, db):
    older = CustomerFactory(email="family@example.com", full_name="Marie Dupont")
    newer = CustomerFactory(email="FAMILY@example.com", full_name="Paul Dupont")
    sign_up(client, "family@example.com")

    confirm_email_from_mail(client, "family@example.com")

    login = login_of("family@example.com")
    assert Customer.objects.filter(user=login).count() == 0
    assert Customer.objects.count() == 2
    flagged = AuditEntry.objects.filter(action="customer.login_link_pending")
    assert sorted(flagged.values_list("object_id", flat=True)) == sorted([str(older.pk), str(newer.pk)])
    assert {entry.changes["login"] for entry in flagged} == {login.pk}


def test_a_login_waiting_for_staff_to_choose_sees_no_ones_data(client, db):
    CustomerFactory(email="family@example.com", full_name="Marie Dupont")
    CustomerFactory(email="family@example.com", full_name="Paul Dupont")
    sign_up(client, "family@example.com")
    confirm_email_from_mail(client, "family@example.com")
    client.force_login(login_of("family@example.com"))

    page = client.get("/account/", HTTP_ACCEPT_LANGUAGE="en")

    assert page.status_code == 200
    assert "not linked to your customer account yet" in page.content.decode()
    assert "Dupont" not in page.content.decode()


def test_a_customer_already_linked_to_another_login_is_not_a_candidate(client, db):
    CustomerFactory(email="shared@example.com", user=UserFactory(email="other@example.com"))
    unlinked = CustomerFactory(email="shared@example.com")
    sign_up(client, "shared@example.com")

    confirm_email_from_mail(client, "shared@example.com")

    unlinked.refresh_from_db()
    assert unlinked.user == login_of("shared@example.com")


@pytest.mark.parametrize(("language", "expected"), [("fr", "fr"), ("zh-hans", "zh-hans"), ("en", "en")])
def test_a_verified_signup_without_a_customer_record_gets_one_in_the_language_it_used(
    client, db, language, expected
):
    client.cookies.load({"django_language": language})
    sign_up(client, "new.traveller@example.com", full_name="Wang Fang")

    assert Customer.objects.count() == 0  # not before verification
    confirm_email_from_mail(client, "new.traveller@example.com")

    customer = Customer.objects.get()
    assert (customer.user, customer.full_name, customer.email, customer.language) == (
        login_of("new.traveller@example.com"),
        "Wang Fang",
        "new.traveller@example.com",
        expected,
    )
    assert AuditEntry.objects.get(action="customer.created").object_id == str(customer.pk)


def test_a_login_that_already_has_its_customer_keeps_it(alice):
    other = CustomerFactory(email="alice.second@example.com")

    result = customer_login_link(
        user=alice.user, email="alice.second@example.com", language="fr", actor=Actor.customer(alice.user)
    )

    assert result == alice
    other.refresh_from_db()
    assert other.user is None
    assert AuditEntry.objects.count() == 0


def test_staff_logins_never_become_customers(manager):
    CustomerFactory(email=manager.email)

    result = customer_login_link(
        user=manager, email=manager.email, language="en", actor=Actor.customer(manager)
    )

    assert result is None
    assert Customer.objects.filter(user=manager).count() == 0


def test_an_unknown_language_falls_back_to_english(db):
    user = UserFactory(email="someone@example.com", first_name="Someone")

    customer = customer_login_link(user=user, email=user.email, language="de", actor=Actor.customer(user))

    assert customer.language == "en"
