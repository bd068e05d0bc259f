"""Staff renewing a line through the API as they do on its admin page: against cash or a bank
transfer received (a receipt at once), or by sending the customer a link to pay online. Billing
and Managers may; Support may not; partners never (they pay from their wallet)."""

from decimal import Decimal

import pytest

from accounts.models import AuditEntry
from payments.links import payment_from_token
from payments.models import Payment
from plans.models import Renewal
from tests.api.conftest import assert_problem

OFFLINE = {"plan": "eu-30d-20gb", "method": "bank_transfer", "amount": "19.90", "reference": "VIR-42"}


def offline_url(line) -> str:
    return f"/api/v1/lines/{line.pk}/offline-renewals/"


def link_url(line) -> str:
    return f"/api/v1/lines/{line.pk}/payment-links/"


@pytest.mark.parametrize("caller", ["api_billing", "api_manager"])
def test_billing_and_managers_renew_a_line_against_a_bank_transfer(request, caller, line_a):
    response = request.getfixturevalue(caller).post(offline_url(line_a), OFFLINE)
    assert response.status_code == 201, response.content
    body = response.json()
    payment = Payment.objects.get(pk=body["id"])
    assert (payment.status, payment.method, payment.amount, payment.currency) == (
        "succeeded",
        "bank_transfer",
        Decimal("19.90"),
        "EUR",
    )
    assert body["amount"] == {"amount": "19.90", "currency": "EUR"} and body["receipt_number"]
    renewal = payment.renewal
    assert (renewal.line_id, renewal.channel) == (line_a.pk, Renewal.Channel.ADMIN)
    assert renewal.status in Renewal.GRANTED_STATUSES
    entry = AuditEntry.objects.get(action="payment.recorded", object_id=str(payment.pk))
    assert entry.channel == "api" and entry.actor_user.username in ("billing", "manager")


def test_the_same_key_sent_twice_records_one_payment(api_billing, line_a):
    first = api_billing.post(offline_url(line_a), OFFLINE, key="till-7")
    again = api_billing.post(offline_url(line_a), OFFLINE, key="till-7")
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    assert Payment.objects.count() == 1 and Renewal.objects.count() == 1


def test_an_amount_that_is_not_the_price_is_refused_and_records_nothing(api_billing, line_a):
    assert_problem(api_billing.post(offline_url(line_a), {**OFFLINE, "amount": "10.00"}), 422)
    assert not Payment.objects.exists() and not Renewal.objects.exists()


def test_an_unknown_plan_or_a_card_payment_is_refused(api_billing, line_a):
    assert_problem(api_billing.post(offline_url(line_a), {**OFFLINE, "plan": "nope"}), 422, "unknown_plan")
    body = assert_problem(api_billing.post(offline_url(line_a), {**OFFLINE, "method": "card"}), 400)
    assert [error["field"] for error in body["errors"]] == ["method"]
    assert not Payment.objects.exists()


def test_billing_sends_a_payment_link_the_customer_pays_through(api_billing, line_a, stripe_peer):
    response = api_billing.post(link_url(line_a), {"plan": "eu-30d-20gb", "method": "alipay"})
    assert response.status_code == 201, response.content
    body = response.json()
    payment = Payment.objects.get(pk=body["payment"]["id"])
    assert body["url"].startswith("http://testserver/payments/pay/")
    assert payment_from_token(body["url"].rstrip("/").rsplit("/", 1)[1]) == payment
    assert (payment.method, payment.status, payment.renewal.channel) == ("alipay", "pending", "admin")


@pytest.mark.parametrize("path", [offline_url, link_url])
def test_support_may_not_take_payments(api_support, line_a, path):
    assert_problem(api_support.post(path(line_a), OFFLINE), 403, "role_forbidden")
    assert not Payment.objects.exists()


@pytest.mark.parametrize("path", [offline_url, link_url])
def test_partners_renew_from_their_wallet_not_here(api_a, api_b, line_a, path):
    assert_problem(api_a.post(path(line_a), OFFLINE), 403, "staff_only")
    assert_problem(api_b.post(path(line_a), OFFLINE), 403, "staff_only")
    assert not Payment.objects.exists()


def test_an_unknown_line_answers_404(api_billing, line_a):
    assert_problem(api_billing.post("/api/v1/lines/999999/offline-renewals/", OFFLINE), 404)
