"""Billing staff refund a payment from its admin page: the suggested amount is offered, every
refusal is a message on the form, a double submit refunds once, and Support cannot refund."""

from decimal import Decimal

import pytest
from django.urls import reverse

from payments.models import Refund
from tests.auth.second_factor import login_staff
from tests.factories import cash_payment_mid_period


@pytest.fixture
def cash_payment(plan):
    return cash_payment_mid_period(plan)


def refund_url(payment):
    return reverse("admin:payments_payment_refund", args=[payment.pk])


def form_data(response, **changes):
    form = response.context["form"]
    data = {name: form[name].value() for name in form.fields}
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def test_the_payment_page_offers_refund_and_receipt_to_billing(client, billing_agent, cash_payment):
    login_staff(client, billing_agent)
    page = client.get(reverse("admin:payments_payment_change", args=[cash_payment.pk]))
    assert refund_url(cash_payment).encode() in page.content
    assert reverse("admin:payments_payment_receipt", args=[cash_payment.pk]).encode() in page.content


def test_support_cannot_refund(client, support_agent, cash_payment):
    login_staff(client, support_agent)
    page = client.get(reverse("admin:payments_payment_change", args=[cash_payment.pk]))
    assert refund_url(cash_payment).encode() not in page.content
    assert client.get(refund_url(cash_payment)).status_code == 403
    assert client.post(refund_url(cash_payment), {"amount": "1"}).status_code == 403
    assert Refund.objects.count() == 0


def test_billing_refunds_the_suggested_share_and_a_double_submit_refunds_once(
    client, billing_agent, cash_payment
):
    login_staff(client, billing_agent)
    form_page = client.get(refund_url(cash_payment))
    suggested = form_page.context["suggestion"].amount
    assert Decimal("0") < suggested < Decimal("19.90")  # 20 of 30 days left, paid 10 days ago
    data = form_data(form_page, reason="customer_request", manual_reference="cash at the counter")
    first = client.post(refund_url(cash_payment), data)
    second = client.post(refund_url(cash_payment), data)
    assert first.status_code == second.status_code == 302
    refund = Refund.objects.get()
    assert (refund.amount, refund.status, refund.requested_by) == (suggested, "succeeded", billing_agent)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"amount": "25.00"}, "can still be refunded"),
        ({"amount": "abc"}, "Enter a number"),
        ({"amount": "1.001"}, "many decimals"),
        ({"reason": "not-a-reason"}, "Select a valid choice"),
        ({"reason": "other", "comment": ""}, "Other"),
        ({"manual_reference": ""}, "paid back"),
    ],
)
def test_bad_input_is_a_message_on_the_form_and_refunds_nothing(
    client, billing_agent, cash_payment, changes, message
):
    login_staff(client, billing_agent)
    data = form_data(client.get(refund_url(cash_payment)), reason="customer_request", manual_reference="cash")
    response = client.post(refund_url(cash_payment), {**data, **changes})
    assert response.status_code == 200
    assert message in response.content.decode()
    assert Refund.objects.count() == 0


def test_another_payment_id_is_not_found(client, billing_agent, db):
    login_staff(client, billing_agent)
    assert client.get(reverse("admin:payments_payment_refund", args=[999999])).status_code == 404
