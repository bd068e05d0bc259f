"""What Stripe says about a PaymentIntent reaches our payment through one service, whoever
brings it: statuses only move forward, the renewal is paid once, and an amount or currency
that is not ours grants nothing and goes to staff review."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from payments.checkout import StaleState, payment_apply_intent
from payments.models import Payment
from plans.models import Renewal
from reseller.actors import Actor
from tests import stripe_events
from tests.factories import PaymentFactory, RenewalFactory, pending_stripe_payment

ACTOR = Actor.system("tests")


@pytest.fixture
def payment(line):
    return pending_stripe_payment(line, "pi_confirm_1", price_amount=Decimal("19.90"))


def apply(payment, status, *, at=None, **fields):
    intent = stripe_events.intent(payment, status=status, **fields)
    payment_apply_intent(intent, observed_at=at or timezone.now(), actor=ACTOR)
    payment.refresh_from_db()
    payment.renewal.refresh_from_db()
    return payment


def declined(code="insufficient_funds"):
    return {"last_payment_error": {"type": "card_error", "code": "card_declined", "decline_code": code}}


def test_succeeded_marks_the_payment_paid_with_a_receipt_and_grants_the_period(payment):
    expiry = payment.renewal.line.expires_at
    apply(payment, "succeeded")
    assert payment.status == "succeeded"
    assert payment.receipt_number.startswith("R") and payment.paid_at is not None
    assert payment.renewal.status == "paid"
    assert payment.renewal.period_start == expiry  # renewed early: no day lost


def test_the_method_and_charge_come_from_the_charge_stripe_made(payment):
    charge = {
        "id": "ch_1",
        "created": int(timezone.now().timestamp()),
        "payment_method_details": {"type": "card", "card": {"wallet": {"type": "apple_pay"}}},
    }
    apply(payment, "succeeded", latest_charge=charge)
    assert (payment.method, payment.stripe_charge_id) == ("apple_pay", "ch_1")


def test_succeeded_twice_grants_one_period_and_one_receipt(payment):
    apply(payment, "succeeded")
    first = (payment.receipt_number, payment.renewal.period_end)
    apply(payment, "succeeded")
    assert (payment.receipt_number, payment.renewal.period_end) == first
    assert Renewal.objects.filter(line=payment.renewal.line, status="paid").count() == 1


def test_a_late_payment_failed_never_overwrites_succeeded(payment):
    apply(payment, "succeeded")
    apply(payment, "requires_payment_method", **declined())
    apply(payment, "processing")
    apply(payment, "canceled")
    assert payment.status == "succeeded" and payment.renewal.status == "paid"


def test_a_declined_attempt_tells_the_customer_why_and_a_retry_can_still_succeed(payment):
    apply(payment, "requires_payment_method", **declined("insufficient_funds"))
    assert payment.status == "failed"
    assert payment.decline_code == "insufficient_funds"
    assert "insufficient funds" in payment.failure_message
    apply(payment, "succeeded")
    assert payment.status == "succeeded" and payment.decline_code == ""


def test_requires_action_then_processing_then_succeeded(payment):
    assert apply(payment, "requires_action").status == "requires_action"
    assert apply(payment, "processing").status == "processing"
    assert apply(payment, "succeeded").status == "succeeded"


def test_a_waiting_intent_changes_nothing(payment):
    assert apply(payment, "requires_payment_method").status == "pending"
    assert apply(payment, "requires_confirmation").status == "pending"


@pytest.mark.parametrize(
    "tampered",
    [
        pytest.param({"amount": 1}, id="another amount"),
        pytest.param({"currency": "usd"}, id="another currency"),
        pytest.param({"metadata": {"payment_id": "999999"}}, id="another payment's metadata"),
    ],
)
def test_an_intent_that_does_not_match_ours_grants_nothing_and_goes_to_review(payment, tampered):
    apply(payment, "succeeded", **tampered)
    assert payment.status == "pending"
    assert payment.review_reason
    assert payment.renewal.status == "pending_payment"


def test_an_event_older_than_what_we_applied_asks_for_a_fresh_copy(payment):
    now = timezone.now()
    apply(payment, "processing", at=now)
    with pytest.raises(StaleState):
        apply(payment, "requires_payment_method", at=now - timedelta(seconds=5), **declined())
    assert payment.status == "processing"


def test_money_taken_for_a_cancelled_renewal_is_recorded_and_parked_not_granted(payment):
    Renewal.objects.filter(pk=payment.renewal_id).update(status="cancelled")
    apply(payment, "succeeded")
    assert payment.status == "succeeded" and payment.receipt_number
    assert payment.review_reason
    assert payment.renewal.status == "cancelled"


def test_a_second_attempt_that_also_took_money_gets_a_receipt_and_is_parked_for_a_refund(payment):
    apply(payment, "succeeded")
    second = PaymentFactory(
        renewal=payment.renewal,
        status=Payment.Status.PENDING,
        paid_at=None,
        receipt_number=None,
        stripe_payment_intent_id="pi_confirm_2",
    )
    intent = stripe_events.intent(second, status="succeeded")
    payment_apply_intent(intent, observed_at=timezone.now(), actor=ACTOR)
    second.refresh_from_db()
    # The money is real: it has a receipt and can be refunded; the period is granted once.
    assert second.status == "succeeded" and second.receipt_number
    assert second.renewal is None and "already paid" in second.review_reason
    assert Payment.objects.filter(renewal=payment.renewal, status="succeeded").count() == 1
    assert Renewal.objects.filter(line=payment.renewal.line, period_start__isnull=False).count() == 1


def test_a_zero_decimal_currency_is_compared_in_its_own_units(line):
    renewal = RenewalFactory(
        line=line,
        status="pending_payment",
        paid_at=None,
        period_start=None,
        period_end=None,
        price_amount=Decimal("2500"),
        currency="JPY",
    )
    payment = PaymentFactory(
        renewal=renewal,
        status="pending",
        paid_at=None,
        receipt_number=None,
        stripe_payment_intent_id="pi_jpy",
    )
    assert stripe_events.intent(payment, status="succeeded")["amount"] == 2500
    assert apply(payment, "succeeded").status == "succeeded"
