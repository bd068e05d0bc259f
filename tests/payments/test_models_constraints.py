"""What the database itself refuses for payments, refunds, failed-payment cases and provider
events, whatever code writes the row (objects.create and save skip full_clean)."""

from decimal import Decimal

import pytest
from django.db import DataError, IntegrityError, transaction
from django.utils import timezone

from payments.models import FailedPaymentCase, Payment, ProviderEvent, Refund
from tests.db import refused, refused_as_duplicate
from tests.factories import (
    FailedPaymentCaseFactory,
    PaymentFactory,
    ProviderEventFactory,
    RefundFactory,
    RenewalFactory,
)

pytestmark = pytest.mark.django_db


def _failed(**kwargs):
    """A declined payment: no payment time, no receipt."""
    return {
        "status": Payment.Status.FAILED,
        "paid_at": None,
        "receipt_number": None,
        "decline_code": "card_declined",
        **kwargs,
    }


# ---------------------------------------------------------------- Payment: amount and values


@pytest.mark.parametrize("amount", ["0", "0.00", "-0.01", "-19.90"])
def test_database_refuses_zero_or_negative_payment(amount):
    with refused("payment_amount_positive"), transaction.atomic():
        PaymentFactory(amount=Decimal(amount))

    assert Payment.objects.count() == 0


@pytest.mark.parametrize("currency", ["XYZ", "eur", "RMB", ""])
def test_database_refuses_payment_currency_outside_iso_4217(currency):
    with refused("payment_currency_iso4217"), transaction.atomic():
        PaymentFactory(currency=currency)

    assert Payment.objects.count() == 0


def test_database_refuses_payment_currency_longer_than_three_letters():
    # SQLite refuses "EURO" with the ISO 4217 check, PostgreSQL already with varchar(3).
    with pytest.raises((IntegrityError, DataError)), transaction.atomic():
        PaymentFactory(currency="EURO")

    assert Payment.objects.count() == 0


@pytest.mark.parametrize("status", ["", "paid", "SUCCEEDED", "refunded"])
def test_database_refuses_unknown_payment_status(status):
    with refused("payment_status_valid"), transaction.atomic():
        PaymentFactory(**_failed(status=status))

    assert Payment.objects.count() == 0


@pytest.mark.parametrize("method", ["", "bitcoin", "CARD", "cheque"])
def test_database_refuses_unknown_payment_method(method):
    with refused("payment_method_valid"), transaction.atomic():
        PaymentFactory(method=method)

    assert Payment.objects.count() == 0


def test_float_payment_amount_is_refused_with_a_type_error_naming_float():
    renewal = RenewalFactory()
    payment = Payment(
        renewal=renewal,
        customer=renewal.line.customer,
        amount=19.9,
        currency="EUR",
        method="card",
        status="succeeded",
        paid_at=timezone.now(),
        receipt_number="R2026-800001",
    )

    with pytest.raises(TypeError, match="float"), transaction.atomic():
        payment.save()

    assert Payment.objects.count() == 0


def test_float_is_refused_in_a_query_on_an_amount_too():
    with pytest.raises(TypeError, match="float"):
        list(Payment.objects.filter(amount=19.9))


# ---------------------------------------------------------------- Payment: one success per renewal


def test_database_refuses_two_succeeded_payments_for_one_renewal():
    renewal = RenewalFactory()
    PaymentFactory(renewal=renewal)

    with refused_as_duplicate(), transaction.atomic():
        PaymentFactory(renewal=renewal)

    assert Payment.objects.filter(renewal=renewal, status="succeeded").count() == 1


def test_database_refuses_turning_a_second_payment_of_a_paid_renewal_into_a_success():
    renewal = RenewalFactory()
    PaymentFactory(renewal=renewal)
    retry = PaymentFactory(renewal=renewal, **_failed())

    with refused_as_duplicate(), transaction.atomic():
        Payment.objects.filter(pk=retry.pk).update(
            status="succeeded", paid_at=timezone.now(), receipt_number="R2026-800002"
        )

    assert Payment.objects.get(pk=retry.pk).status == "failed"


def test_database_accepts_failed_payments_then_a_success_for_one_renewal():
    renewal = RenewalFactory()
    PaymentFactory(renewal=renewal, **_failed(decline_code="insufficient_funds"))
    PaymentFactory(renewal=renewal, **_failed(decline_code="expired_card"))
    PaymentFactory(renewal=renewal)

    assert Payment.objects.filter(renewal=renewal).count() == 3
    assert Payment.objects.filter(renewal=renewal, status="succeeded").count() == 1


# ---------------------------------------------------------------- Payment: receipt and paid_at


def test_database_refuses_succeeded_payment_without_receipt_number():
    with refused("payment_succeeded_has_receipt"), transaction.atomic():
        PaymentFactory(status="succeeded", receipt_number=None)

    assert Payment.objects.count() == 0


def test_database_refuses_succeeded_payment_with_blank_receipt_number():
    with refused("payment_succeeded_has_receipt"), transaction.atomic():
        PaymentFactory(status="succeeded", receipt_number="")

    assert Payment.objects.count() == 0


def test_database_refuses_succeeded_payment_without_paid_at():
    with refused("payment_succeeded_has_receipt"), transaction.atomic():
        PaymentFactory(status="succeeded", paid_at=None)

    assert Payment.objects.count() == 0


@pytest.mark.parametrize("status", ["pending", "requires_action", "processing", "failed", "cancelled"])
def test_database_accepts_unfinished_or_failed_payments_without_receipt(status):
    PaymentFactory(**_failed(status=status))

    assert Payment.objects.filter(status=status, receipt_number__isnull=True).count() == 1


def test_database_refuses_duplicate_receipt_number():
    PaymentFactory(receipt_number="R2026-000042")

    with refused_as_duplicate(), transaction.atomic():
        PaymentFactory(receipt_number="R2026-000042")

    assert Payment.objects.filter(receipt_number="R2026-000042").count() == 1


# ---------------------------------------------------------------- Payment: Stripe ids


def test_database_refuses_duplicate_stripe_payment_intent():
    PaymentFactory(stripe_payment_intent_id="pi_3PqR5s2eZvKYlo2C0u1xYz")

    with refused_as_duplicate(), transaction.atomic():
        PaymentFactory(**_failed(stripe_payment_intent_id="pi_3PqR5s2eZvKYlo2C0u1xYz"))

    assert Payment.objects.filter(stripe_payment_intent_id="pi_3PqR5s2eZvKYlo2C0u1xYz").count() == 1


def test_database_accepts_many_payments_without_payment_intent():
    # Cash, bank transfers and wallet payments have no PaymentIntent.
    PaymentFactory(method="cash", stripe_payment_intent_id="", manual_reference="CASH-1")
    PaymentFactory(method="bank_transfer", stripe_payment_intent_id="", manual_reference="VIR-2")

    assert Payment.objects.filter(stripe_payment_intent_id="").count() == 2


# ---------------------------------------------------------------- Refund


@pytest.mark.parametrize("amount", ["0", "0.00", "-0.01", "-19.90"])
def test_database_refuses_zero_or_negative_refund(amount):
    payment = PaymentFactory()

    with refused("refund_amount_positive"), transaction.atomic():
        RefundFactory(payment=payment, amount=Decimal(amount))

    assert Refund.objects.count() == 0


@pytest.mark.parametrize("currency", ["XYZ", "eur", ""])
def test_database_refuses_refund_currency_outside_iso_4217(currency):
    payment = PaymentFactory()

    with refused("refund_currency_iso4217"), transaction.atomic():
        RefundFactory(payment=payment, currency=currency)

    assert Refund.objects.count() == 0


@pytest.mark.parametrize(
    ("field_values", "constraint"),
    [
        ({"status": "done"}, "refund_status_valid"),
        ({"status": ""}, "refund_status_valid"),
        ({"reason": ""}, "refund_reason_valid"),
        ({"reason": "angry"}, "refund_reason_valid"),
        ({"entitlement": "remove"}, "refund_entitlement_valid"),
        ({"entitlement": ""}, "refund_entitlement_valid"),
    ],
)
def test_database_refuses_refund_with_unknown_choice(field_values, constraint):
    payment = PaymentFactory()

    with refused(constraint), transaction.atomic():
        RefundFactory(payment=payment, **field_values)

    assert Refund.objects.count() == 0


def test_database_refuses_duplicate_stripe_refund_id():
    payment = PaymentFactory(amount=Decimal("19.90"))
    RefundFactory(payment=payment, amount=Decimal("5.00"), stripe_refund_id="re_3PqR5s2eZvKYlo2C")

    with refused_as_duplicate(), transaction.atomic():
        RefundFactory(payment=payment, amount=Decimal("5.00"), stripe_refund_id="re_3PqR5s2eZvKYlo2C")

    assert Refund.objects.count() == 1


def test_database_accepts_many_refunds_without_stripe_id():
    payment = PaymentFactory(amount=Decimal("19.90"))
    RefundFactory(payment=payment, amount=Decimal("5.00"), stripe_refund_id="")
    RefundFactory(payment=payment, amount=Decimal("5.00"), stripe_refund_id="")

    assert Refund.objects.filter(payment=payment).count() == 2


def test_database_refuses_duplicate_refund_idempotency_key():
    payment = PaymentFactory(amount=Decimal("19.90"))
    RefundFactory(payment=payment, amount=Decimal("19.90"), idempotency_key="refund-click-1")

    with refused_as_duplicate(), transaction.atomic():
        RefundFactory(payment=payment, amount=Decimal("19.90"), idempotency_key="refund-click-1")

    assert Refund.objects.count() == 1


def test_float_refund_amount_is_refused_with_a_type_error_naming_float():
    payment = PaymentFactory()

    with pytest.raises(TypeError, match="float"), transaction.atomic():
        RefundFactory(payment=payment, amount=5.0)

    assert Refund.objects.count() == 0


# ---------------------------------------------------------------- FailedPaymentCase


def test_database_refuses_two_open_failed_payment_cases_for_one_renewal():
    case = FailedPaymentCaseFactory()

    with refused_as_duplicate(), transaction.atomic():
        FailedPaymentCaseFactory(renewal=case.renewal, payment=case.payment)

    assert FailedPaymentCase.objects.filter(renewal=case.renewal, status="open").count() == 1


def test_database_refuses_reopening_a_second_case_for_a_renewal_with_an_open_one():
    case = FailedPaymentCaseFactory()
    closed = FailedPaymentCaseFactory(renewal=case.renewal, payment=case.payment, status="written_off")

    with refused_as_duplicate(), transaction.atomic():
        FailedPaymentCase.objects.filter(pk=closed.pk).update(status="open")

    assert FailedPaymentCase.objects.get(pk=closed.pk).status == "written_off"


@pytest.mark.parametrize("closed_status", ["recovered", "written_off", "cancelled"])
def test_database_accepts_a_new_open_case_beside_closed_ones(closed_status):
    case = FailedPaymentCaseFactory(status=closed_status, closed_at=timezone.now())
    FailedPaymentCaseFactory(renewal=case.renewal, payment=case.payment)

    assert FailedPaymentCase.objects.filter(renewal=case.renewal).count() == 2
    assert FailedPaymentCase.objects.filter(renewal=case.renewal, status="open").count() == 1


@pytest.mark.parametrize("status", ["", "closed", "OPEN"])
def test_database_refuses_unknown_failed_payment_case_status(status):
    with refused("dunning_status_valid"), transaction.atomic():
        FailedPaymentCaseFactory(status=status)

    assert FailedPaymentCase.objects.count() == 0


# ---------------------------------------------------------------- ProviderEvent


def test_database_refuses_the_same_provider_event_twice():
    ProviderEventFactory(provider="stripe", event_id="evt_1PqR5s2eZvKYlo2C")

    with refused_as_duplicate(), transaction.atomic():
        ProviderEventFactory(provider="stripe", event_id="evt_1PqR5s2eZvKYlo2C")

    assert ProviderEvent.objects.filter(event_id="evt_1PqR5s2eZvKYlo2C").count() == 1


def test_database_accepts_the_same_event_id_from_another_provider():
    ProviderEventFactory(provider="stripe", event_id="evt_000001")
    ProviderEventFactory(provider="paypal", event_id="evt_000001")

    assert ProviderEvent.objects.filter(event_id="evt_000001").count() == 2
