"""Staff find a customer or a line from whatever the customer tells them."""

import pytest
from django.urls import reverse

from accounts.search import classify
from tests.auth.second_factor import login_staff
from tests.factories import CustomerFactory, PaymentFactory, RenewalFactory, SimLineFactory


@pytest.mark.parametrize(
    ("typed", "kind", "value"),
    [
        ("89332000000000000019", "iccid", "89332000000000000019"),
        ("8933 2000 0000 0000 0019", "iccid", "89332000000000000019"),
        ("06 12 34 56 78", "phone", "+33612345678"),
        ("+33 6 12 34 56 78", "phone", "+33612345678"),
        ("r2026-000042", "receipt", "R2026-000042"),
        ("R2026-42", "receipt", "R2026-000042"),
        ("Alice@Example.com", "email", "Alice@Example.com"),
        ("王小明", "name", "王小明"),
        ("Martin", "name", "Martin"),
    ],
)
def test_search_term_is_recognised_by_its_shape(typed, kind, value):
    term = classify(typed)
    assert (term.kind, term.value) == (kind, value)


@pytest.fixture
def wang(db):
    customer = CustomerFactory(
        full_name="王小明 Wang Xiaoming", email="wang@example.org", phone="+33698765432"
    )
    line = SimLineFactory(customer=customer, msisdn="+33611112222")
    payment = PaymentFactory(renewal=RenewalFactory(line=line), receipt_number="R2026-000777")
    CustomerFactory.create_batch(3)
    return customer, line, payment


@pytest.mark.parametrize(
    "typed",
    ["王小明", "xiaoming", "WANG@example.org", "06 98 76 54 32", "+33611112222", "R2026-000777", "iccid"],
)
def test_support_agent_finds_a_customer_by_anything_they_were_told(client, support_agent, wang, typed):
    customer, line, _payment = wang
    if typed == "iccid":
        typed = line.iccid
    login_staff(client, support_agent)
    response = client.get(reverse("admin:accounts_customer_changelist"), {"q": typed})
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [customer]


@pytest.mark.parametrize("typed", ["iccid", "06 11 11 22 22", "R2026-000777", "wang@example.org"])
def test_support_agent_finds_a_line(client, support_agent, wang, typed):
    _customer, line, _payment = wang
    if typed == "iccid":
        typed = line.iccid
    login_staff(client, support_agent)
    response = client.get(reverse("admin:accounts_simline_changelist"), {"q": typed})
    assert list(response.context["cl"].result_list) == [line]


def test_billing_agent_finds_a_payment_by_receipt_number(client, billing_agent, wang):
    _customer, _line, payment = wang
    login_staff(client, billing_agent)
    response = client.get(reverse("admin:payments_payment_changelist"), {"q": "r2026-000777"})
    assert list(response.context["cl"].result_list) == [payment]


def test_search_for_an_unknown_number_finds_nothing(client, support_agent, wang):
    login_staff(client, support_agent)
    response = client.get(reverse("admin:accounts_customer_changelist"), {"q": "R2026-999999"})
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == []


@pytest.mark.parametrize("typed", ["pi_wang_1", "ch_wang_1", "re_wang_1", "VIR-2026-0042"])
def test_billing_agent_finds_a_payment_by_its_stripe_ids_or_transfer_reference(
    client, billing_agent, wang, typed
):
    from payments.models import Refund

    _customer, _line, payment = wang
    payment.stripe_payment_intent_id, payment.stripe_charge_id = "pi_wang_1", "ch_wang_1"
    payment.manual_reference = "VIR-2026-0042"
    payment.save()
    Refund.objects.create(
        payment=payment,
        amount=1,
        currency=payment.currency,
        reason="other",
        idempotency_key="k",
        stripe_refund_id="re_wang_1",
    )
    PaymentFactory()  # someone else's
    login_staff(client, billing_agent)
    response = client.get(reverse("admin:payments_payment_changelist"), {"q": typed})
    assert list(response.context["cl"].result_list) == [payment]
