"""Billing staff renew a line by sending the customer a link to pay online."""

import pytest
from django.urls import reverse

from payments.links import payment_from_token
from payments.models import Payment
from plans.models import Renewal
from tests.auth.second_factor import login_staff


def link_url(line):
    return reverse("admin:accounts_simline_payment_link", args=[line.pk])


def _token(link: str) -> str:
    return link.rstrip("/").rsplit("/", 1)[1]


def test_billing_creates_one_link_however_often_the_form_is_sent(client, billing_agent, line, stripe_peer):
    login_staff(client, billing_agent)
    form = client.get(link_url(line)).context["form"]
    data = {
        "plan": line.plan.pk,
        "currency": "EUR",
        "method": "card",
        "idempotency_key": form["idempotency_key"].value(),
    }
    first = client.post(link_url(line), data)
    second = client.post(link_url(line), data)
    # The same payment, whatever second the signed link was made in.
    assert payment_from_token(_token(first.context["link"])) == payment_from_token(
        _token(second.context["link"])
    )
    assert "/payments/pay/" in first.context["link"]
    payment = Payment.objects.get()
    assert (payment.status, payment.amount, payment.renewal.status) == (
        "pending",
        payment.renewal.price_amount,
        "pending_payment",
    )
    assert client.get(first.context["link"]).status_code == 200


def test_support_cannot_create_payment_links(client, support_agent, line):
    login_staff(client, support_agent)
    assert client.get(link_url(line)).status_code == 403
    assert Renewal.objects.filter(line=line).count() == 0


@pytest.mark.parametrize("changes", [{"currency": "XXX"}, {"method": "cash"}, {"plan": "0"}])
def test_bad_input_creates_nothing(client, billing_agent, line, changes):
    login_staff(client, billing_agent)
    data = {"plan": line.plan.pk, "currency": "EUR", "method": "card", "idempotency_key": "k", **changes}
    response = client.post(link_url(line), data)
    assert response.status_code == 200 and response.context["form"].errors
    assert Renewal.objects.filter(line=line, status="pending_payment").count() == 0
