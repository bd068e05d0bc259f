"""Paying a top-up: the line is looked up only now. A known number renews through the local
Stripe peer, once however often the page is sent, and the receipt goes to the payer's e-mail,
not the owner's; an unknown number, a terminated line or a plan for another kind of SIM is
refused with one message and creates nothing."""

import re
import zoneinfo
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEntry, SimLine
from payments.links import payment_from_token, return_url
from payments.models import Payment
from payments.topup import TopupRefused
from plans.models import Renewal
from tests import stripe_peer as peer_side
from tests.factories import PlanFactory, PriceFactory
from tests.topup.conftest import unknown_twin_iccid

URL = reverse("topup")
PAYER = "someone.paying@example.net"
REFUSED = str(TopupRefused.default_message)


def plans_page_token(client, number: str) -> str:
    page = client.post(URL, {"number": number}, HTTP_ACCEPT_LANGUAGE="en")
    return re.search(r'name="token" value="([^"]+)"', page.content.decode())[1]


def pay(client, token: str, plan, currency="EUR", method="card", email=PAYER, language="en"):
    data = {"token": token, "plan": plan.pk, "currency": currency, "method": method, "email": email}
    return client.post(URL, data, HTTP_ACCEPT_LANGUAGE=language)


def opened(response) -> Payment:
    """The payment a redirect to its payment page names (the signed link carries a timestamp)."""
    return payment_from_token(response["Location"].rstrip("/").rsplit("/", 1)[1])


def nothing_was_created():
    return (
        not Renewal.objects.filter(channel=Renewal.Channel.PUBLIC_TOPUP).exists()
        and not Payment.objects.exists()
        and not AuditEntry.objects.exists()
    )


def test_paying_a_top_up_renews_the_line_once_and_mails_the_receipt_to_the_payer(
    client, stripe_peer, owners_line, plan, mailoutbox, django_capture_on_commit_callbacks
):
    token = plans_page_token(client, "8933 2000 0000 4242 4243")
    first = pay(client, token, plan)
    again = pay(client, token, plan)  # a double click, or the page sent again
    assert first.status_code == 302 and first["Location"].startswith("/payments/pay/")
    assert again.status_code == 302 and opened(again) == opened(first)
    renewal = Renewal.objects.get(line=owners_line)
    assert (renewal.channel, renewal.price_amount, renewal.currency, renewal.status) == (
        "public_topup",
        plan.prices.get(currency="EUR", channel="retail").amount,
        "EUR",
        "pending_payment",
    )
    payment = Payment.objects.get(renewal=renewal)
    assert payment.receipt_email == PAYER

    peer_side.customer_pays(stripe_peer.base_url, payment.stripe_payment_intent_id)
    previous_expiry = owners_line.expires_at
    with django_capture_on_commit_callbacks(execute=True):
        client.get(return_url(payment))
    payment.refresh_from_db()
    renewal.refresh_from_db()
    owners_line.refresh_from_db()
    assert payment.status == "succeeded"
    assert renewal.status in Renewal.GRANTED_STATUSES
    assert (renewal.period_start, owners_line.expires_at) == (previous_expiry, renewal.period_end)
    assert Renewal.objects.filter(line=owners_line).count() == 1

    receipts = [m for m in mailoutbox if payment.receipt_number in m.subject]
    assert [m.to for m in receipts] == [[PAYER]]
    receipt = receipts[0]
    assert "8933 •••• •••• 4243" in receipt.body and "19.90\u00a0EUR" in receipt.body
    assert receipt.attachments == []  # the PDF names the owner
    assert owners_line.customer.full_name not in receipt.body


def test_the_payer_reads_the_receipt_in_the_pages_language_and_the_sellers_time_zone(
    client,
    stripe_peer,
    owners_line,
    plan,
    mailoutbox,
    django_capture_on_commit_callbacks,
    compiled_catalogues,
):
    owners_line.customer.language = "zh-hans"  # the owner's language is not the payer's
    owners_line.customer.save(update_fields=["language"])
    payment = opened(pay(client, plans_page_token(client, owners_line.msisdn), plan, language="fr"))
    assert payment.receipt_language == "fr"
    peer_side.customer_pays(stripe_peer.base_url, payment.stripe_payment_intent_id)
    with django_capture_on_commit_callbacks(execute=True):
        client.get(return_url(payment))
    payment.refresh_from_db()
    receipt = next(m for m in mailoutbox if payment.receipt_number in m.subject)
    assert receipt.subject == f"Votre reçu de recharge {payment.receipt_number}"
    paris = timezone.localtime(payment.paid_at, zoneinfo.ZoneInfo("Europe/Paris"))
    assert f"{paris:%H:%M} ({paris.tzname()})" in receipt.body
    assert "UTC" not in receipt.body


def test_the_audit_trail_names_the_payer_and_the_public_top_up(client, stripe_peer, owners_line, plan):
    pay(client, plans_page_token(client, owners_line.msisdn), plan)
    entries = AuditEntry.objects.filter(action__in=["renewal.requested", "payment.started"])
    assert sorted(entries.values_list("action", "actor_kind", "channel", "actor_label", "actor_user")) == [
        ("payment.started", "customer", "public_topup", f"top-up payer {PAYER}", None),
        ("renewal.requested", "customer", "public_topup", f"top-up payer {PAYER}", None),
    ]
    assert entries.get(action="renewal.requested").reason == f"public top-up paid by {PAYER}"


def test_sending_the_page_again_with_a_corrected_email_sends_the_receipt_there(
    client, stripe_peer, owners_line, plan
):
    token = plans_page_token(client, owners_line.iccid)
    pay(client, token, plan, email="typo@exmaple.net")
    pay(client, token, plan, email=PAYER)
    assert list(Payment.objects.values_list("receipt_email", flat=True)) == [PAYER]


def test_going_back_and_choosing_another_plan_on_the_same_page_buys_that_plan(
    client, stripe_peer, owners_line, plan
):
    week = PlanFactory(code="eu-7d", validity_days=7)
    PriceFactory(plan=week, currency="EUR", amount=Decimal("6.00"))
    token = plans_page_token(client, owners_line.iccid)
    first, second = pay(client, token, plan), pay(client, token, week)
    assert first.status_code == second.status_code == 302
    assert (opened(first).amount, opened(second).amount) == (Decimal("19.90"), Decimal("6.00"))
    renewals = Renewal.objects.filter(line=owners_line, channel="public_topup").order_by("pk")
    assert [r.plan_id for r in renewals] == [plan.pk, week.pk]


def test_two_pages_shown_are_two_purchases(client, stripe_peer, owners_line, plan):
    pay(client, plans_page_token(client, owners_line.iccid), plan)
    pay(client, plans_page_token(client, owners_line.iccid), plan)
    assert Renewal.objects.filter(line=owners_line, channel="public_topup").count() == 2


def test_an_unknown_number_is_refused_at_payment_and_nothing_is_created(
    client, stripe_peer, owners_line, plan
):
    page = pay(client, plans_page_token(client, unknown_twin_iccid(owners_line.iccid)), plan)
    assert page.status_code == 200 and REFUSED in page.content.decode()
    assert nothing_was_created()


def test_a_terminated_line_is_refused_at_payment_with_the_same_message(
    client, stripe_peer, owners_line, plan
):
    SimLine.objects.filter(pk=owners_line.pk).update(status=SimLine.Status.TERMINATED)
    page = pay(client, plans_page_token(client, owners_line.iccid), plan)
    assert page.status_code == 200 and REFUSED in page.content.decode()
    assert nothing_was_created()


def test_a_plan_for_another_kind_of_sim_is_refused_with_the_same_message(
    client, stripe_peer, owners_line, esim_plan
):
    page = pay(client, plans_page_token(client, owners_line.iccid), esim_plan)
    assert page.status_code == 200 and REFUSED in page.content.decode()
    assert nothing_was_created()


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"email": "not-an-email"}, "email", "Enter a valid email address."),
        ({"currency": "USD"}, "currency", "Select a valid choice."),
        ({"currency": "CNY", "plan": "esim"}, "currency", "This plan has no price in CNY."),
        ({"plan": "999999"}, "plan", "Choose one of the plans on sale."),
        ({"method": "paypal"}, "method", "Select a valid choice."),
    ],
)
def test_a_bad_choice_is_shown_on_the_page_and_creates_nothing(
    client, owners_line, plan, esim_plan, change, field, message
):
    data = {"token": plans_page_token(client, owners_line.iccid), "plan": plan.pk, "currency": "EUR"}
    data |= {"method": "card", "email": PAYER, **change}
    if data["plan"] == "esim":
        data["plan"] = esim_plan.pk
    page = client.post(URL, data, HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200
    assert message in str(page.context["form"].errors[field])
    assert 'id="masked-number"' in page.content.decode()
    assert nothing_was_created()


def test_a_forged_or_stale_page_token_asks_for_the_number_again(client, owners_line, plan):
    page = pay(client, "forged-token", plan)
    assert page.status_code == 200
    assert "This page has expired. Please enter the number again." in page.content.decode()
    assert nothing_was_created()


def test_the_payment_and_result_pages_show_a_top_up_payer_nothing_of_the_owner(
    client, stripe_peer, owners_line, plan, django_capture_on_commit_callbacks
):
    from django.utils.translation import override

    from payments.links import pay_url, payment_token

    owners_line.customer.language = "zh-hans"
    owners_line.customer.save()
    payment = opened(pay(client, plans_page_token(client, owners_line.msisdn), plan))
    page = client.get(pay_url(payment), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert owners_line.iccid not in page and "8933 •••• •••• 4243" in page
    assert "Pay for your plan" in page  # the payer's language (English), not the owner's (Chinese)
    peer_side.customer_pays(stripe_peer.base_url, payment.stripe_payment_intent_id)
    with django_capture_on_commit_callbacks(execute=True):
        done = client.get(return_url(payment), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    for secret in (owners_line.customer.full_name, owners_line.customer.email, owners_line.iccid):
        assert secret not in done and secret not in page
    assert 'id="receipt-link"' not in done
    with override("en"):
        assert client.get(reverse("payments:receipt", args=[payment_token(payment)])).status_code == 404
