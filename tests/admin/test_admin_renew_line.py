"""Billing staff renew a line from its admin page against cash or a bank transfer."""

from decimal import Decimal

import pytest
from django.urls import reverse

from payments.models import Payment
from plans.models import Renewal
from tests.auth.second_factor import login_staff
from tests.factories import PlanFactory, PriceFactory, SimLineFactory


@pytest.fixture
def line_and_plan(db):
    plan = PlanFactory(code="fr-7d")
    PriceFactory(plan=plan, currency="EUR", amount=Decimal("9.90"))
    return SimLineFactory(plan=plan), plan


def renew_url(line):
    return reverse("admin:accounts_simline_renew", args=[line.pk])


def form_data(plan, **overrides):
    data = {
        "plan": plan.pk,
        "currency": "EUR",
        "method": "cash",
        "amount": "9.90",
        "reference": "",
        "idempotency_key": "f1",
    }
    return {**data, **overrides}


def test_billing_agent_renews_a_line_and_sees_the_new_expiry(client, billing_agent, line_and_plan):
    line, plan = line_and_plan
    login_staff(client, billing_agent)
    page = client.get(reverse("admin:accounts_simline_change", args=[line.pk]))
    assert renew_url(line) in page.content.decode()
    assert client.get(renew_url(line)).status_code == 200
    response = client.post(renew_url(line), form_data(plan), follow=True)
    assert response.redirect_chain[-1][0] == reverse("admin:accounts_simline_change", args=[line.pk])
    payment = Payment.objects.get()
    assert payment.receipt_number in response.content.decode()
    renewal = Renewal.objects.get()
    line.refresh_from_db()
    assert line.expires_at == renewal.period_end


def test_a_double_submit_records_one_payment(client, billing_agent, line_and_plan):
    line, plan = line_and_plan
    login_staff(client, billing_agent)
    client.post(renew_url(line), form_data(plan))
    client.post(renew_url(line), form_data(plan))
    assert Payment.objects.count() == 1


def test_a_wrong_amount_is_shown_on_the_form_and_changes_nothing(client, billing_agent, line_and_plan):
    line, plan = line_and_plan
    login_staff(client, billing_agent)
    response = client.post(renew_url(line), form_data(plan, amount="5.00"))
    assert response.status_code == 200
    assert "The amount must be the renewal&#x27;s price, 9.90 EUR." in response.content.decode()
    assert (Payment.objects.count(), Renewal.objects.count()) == (0, 0)


def test_a_support_agent_cannot_record_payments(client, support_agent, line_and_plan):
    line, plan = line_and_plan
    login_staff(client, support_agent)
    page = client.get(reverse("admin:accounts_simline_change", args=[line.pk]))
    assert renew_url(line) not in page.content.decode()
    assert client.get(renew_url(line)).status_code == 403
    assert client.post(renew_url(line), form_data(plan)).status_code == 403
    assert Payment.objects.count() == 0


def test_renewing_an_unknown_line_is_not_found(client, billing_agent, db):
    login_staff(client, billing_agent)
    assert client.get(reverse("admin:accounts_simline_renew", args=[999_999])).status_code == 404
