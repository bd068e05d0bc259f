"""Refunds: never more than was paid (pending and succeeded together), whoever asks at once;
a clear message for every refusal; the entitlement handled as Billing chose, once."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from accounts.models import AuditEntry, Correction
from payments.models import Payment, Refund
from payments.refunds import refund_request, refund_suggested, refundable
from plans.models import Renewal
from reseller.actors import Actor
from reseller.errors import DomainError
from tests.concurrency import run_concurrently
from tests.factories import (
    PaymentFactory,
    RefundFactory,
    RenewalFactory,
    SimLineFactory,
    cash_payment_mid_period,
)


@pytest.fixture
def cash_payment(plan):
    return cash_payment_mid_period(plan)


def refund(payment, amount, actor, *, key="k1", entitlement="keep", **extra):
    return refund_request(
        payment=payment,
        amount=Decimal(amount),
        reason="customer_request",
        entitlement=entitlement,
        actor=actor,
        idempotency_key=key,
        manual_reference="cash handed back",
        **extra,
    )


def test_a_partial_cash_refund_is_recorded_succeeded_and_audited(cash_payment, staff_actor):
    made = refund(cash_payment, "5.00", staff_actor, comment="two days unused")
    assert (made.status, made.amount, made.currency) == ("succeeded", Decimal("5.00"), "EUR")
    assert refundable(cash_payment) == Decimal("14.90")
    entry = AuditEntry.objects.get(action="refund.requested")
    assert entry.actor_user == staff_actor.user


def test_the_same_key_returns_the_same_refund_and_another_amount_with_it_is_refused(
    cash_payment, staff_actor
):
    first = refund(cash_payment, "5.00", staff_actor)
    assert refund(cash_payment, "5.00", staff_actor) == first
    with pytest.raises(DomainError):
        refund(cash_payment, "6.00", staff_actor)
    assert Refund.objects.count() == 1


@pytest.mark.parametrize(
    ("amount", "code"),
    [("0", "amount"), ("-1", "amount"), ("1.001", "amount"), ("19.91", "over_refund"), ("NaN", "amount")],
)
def test_bad_amounts_are_refused_with_a_reason_and_change_nothing(cash_payment, staff_actor, amount, code):
    with pytest.raises(DomainError) as refused:
        refund(cash_payment, amount, staff_actor)
    assert refused.value.code == code
    assert Refund.objects.count() == 0


def test_pending_and_succeeded_refunds_together_never_exceed_the_payment(cash_payment, staff_actor):
    RefundFactory(payment=cash_payment, amount=Decimal("10.00"), status="pending")
    RefundFactory(payment=cash_payment, amount=Decimal("5.00"), status="succeeded")
    RefundFactory(payment=cash_payment, amount=Decimal("19.90"), status="failed")  # gave its amount back
    with pytest.raises(DomainError, match=r"4\.90"):
        refund(cash_payment, "5.00", staff_actor)
    assert refund(cash_payment, "4.90", staff_actor, key="k2").amount == Decimal("4.90")


def test_an_unpaid_payment_cannot_be_refunded(plan, staff_actor):
    payment = PaymentFactory(status="failed", paid_at=None, receipt_number=None, method="cash")
    with pytest.raises(DomainError) as refused:
        refund(payment, "1.00", staff_actor)
    assert refused.value.code == "not_paid"


def test_a_manual_refund_needs_to_say_how_the_money_went_back(cash_payment, staff_actor):
    with pytest.raises(DomainError) as refused:
        refund_request(
            payment=cash_payment,
            amount=Decimal("1"),
            reason="other",
            entitlement="keep",
            actor=staff_actor,
            idempotency_key="k",
            manual_reference=" ",
        )
    assert refused.value.code == "manual_reference"


def test_a_wechat_pay_payment_older_than_180_days_gets_a_clear_message(plan, staff_actor):
    payment = PaymentFactory(method="wechat_pay", paid_at=timezone.now() - timedelta(days=181))
    with pytest.raises(DomainError) as refused:
        refund(payment, "1.00", staff_actor)
    assert refused.value.code == "refund_window"
    assert "180" in str(refused.value.message)


def test_ending_the_period_takes_the_unused_time_off_the_line_and_later_periods(cash_payment, staff_actor):
    renewal = cash_payment.renewal
    line = renewal.line
    later = RenewalFactory(
        line=line,
        status="paid",
        period_start=renewal.period_end,
        period_end=renewal.period_end + timedelta(days=30),
    )
    line.expires_at = later.period_end
    line.save()
    now = timezone.now()
    with time_machine.travel(now, tick=False):
        refund(cash_payment, "19.90", staff_actor, entitlement="end_period")
    renewal.refresh_from_db()
    later.refresh_from_db()
    line.refresh_from_db()
    assert renewal.status == "refunded" and renewal.period_end == now
    assert later.period_start == now  # back to back: the customer keeps every day paid for
    assert line.expires_at == later.period_end == now + timedelta(days=30)


def test_deducting_data_removes_the_refunded_share_of_the_allowance(cash_payment, staff_actor):
    refund(cash_payment, "9.95", staff_actor, entitlement="deduct_data")  # half
    correction = Correction.objects.get()
    assert correction.data_mb_delta == -10_000 and correction.reason == "refund"


def test_the_entitlement_is_handled_once_even_if_the_refund_is_reapplied(cash_payment, staff_actor):
    made = refund(cash_payment, "9.95", staff_actor, entitlement="deduct_data")
    from payments.refunds import _apply_entitlement

    _apply_entitlement(Refund.objects.get(pk=made.pk), actor=staff_actor)
    assert Correction.objects.count() == 1


def test_the_suggestion_is_in_full_within_a_day_of_the_purchase(plan):
    assert refund_suggested(PaymentFactory(paid_at=timezone.now() - timedelta(hours=23))).amount == Decimal(
        "19.90"
    )


def test_the_suggestion_later_is_the_unused_share_of_the_period_rounded_down(plan):
    start = datetime(2026, 3, 1, tzinfo=UTC)
    line = SimLineFactory(plan=plan, expires_at=start + timedelta(days=30))
    renewal = RenewalFactory(line=line, period_start=start, period_end=start + timedelta(days=30), data_mb=0)
    payment = PaymentFactory(renewal=renewal, method="card", paid_at=start, amount=Decimal("19.90"))
    with time_machine.travel(start + timedelta(days=10), tick=False):
        suggestion = refund_suggested(payment)
    assert suggestion.amount == Decimal("13.26")  # 20/30 × 19.90 = 13.2666…, rounded down


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_agents_refunding_at_once_cannot_over_refund(on_postgres, cash_payment, billing_agent, manager):
    actors = [Actor.staff(billing_agent), Actor.staff(manager)]

    def attempt(i):
        try:
            return refund(Payment.objects.get(pk=cash_payment.pk), "15.00", actors[i % 2], key=f"agent-{i}")
        except DomainError as exc:
            return exc.code

    outcomes = run_concurrently(attempt, 6)
    assert sum(isinstance(o, Refund) for o in outcomes) == 1
    assert sorted(o for o in outcomes if isinstance(o, str)) == ["over_refund"] * 5
    assert refundable(cash_payment) == Decimal("4.90")


def test_ending_a_period_that_is_not_running_is_refused_before_any_money_moves(plan, staff_actor):
    payment = cash_payment_mid_period(plan)
    Renewal.objects.filter(pk=payment.renewal_id).update(status="cancelled")
    with pytest.raises(DomainError) as refused:
        refund(payment, "5.00", staff_actor, entitlement="end_period")
    assert refused.value.code == "entitlement"
    assert Refund.objects.count() == 0


def test_refunding_a_first_use_plan_before_first_use_ends_the_line_it_held_open(staff_actor, db):
    from tests.factories import PlanFactory

    plan = PlanFactory(activation_policy="first_use")
    line = SimLineFactory(plan=plan, expires_at=None)
    renewal = RenewalFactory(line=line, plan=plan, status="paid", period_start=None, period_end=None)
    payment = PaymentFactory(renewal=renewal, method="cash", paid_at=timezone.now() - timedelta(days=3))
    refund(payment, str(payment.amount), staff_actor, entitlement="end_period")
    renewal.refresh_from_db()
    line.refresh_from_db()
    assert renewal.status == "refunded"
    assert line.expires_at is not None and line.expires_at <= timezone.now()
