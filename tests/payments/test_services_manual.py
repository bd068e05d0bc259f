"""Billing staff record cash and bank transfers; each pays one renewal once."""

from decimal import Decimal

import pytest

from accounts.models import AuditEntry
from payments.manual import line_renew_with_manual_payment, payment_record_manual
from payments.models import Payment
from plans.models import Renewal
from plans.renewals import renewal_request
from reseller.errors import DomainError
from tests.payments.sequence_lock import assert_receipt_number_taken_last


def pending(line, plan, actor, key="k"):
    return renewal_request(
        line=line, plan=plan, currency="EUR", channel="admin", idempotency_key=key, actor=actor
    )


def test_cash_payment_pays_the_renewal_with_a_receipt(line, plan, staff_actor, billing_agent):
    renewal = pending(line, plan, staff_actor)
    payment = payment_record_manual(
        renewal=renewal,
        method="cash",
        amount=Decimal("19.90"),
        currency="EUR",
        reference="",
        actor=staff_actor,
    )
    renewal.refresh_from_db()
    assert (payment.status, payment.amount, payment.method) == ("succeeded", Decimal("19.90"), "cash")
    assert payment.receipt_number.startswith("R20")
    assert payment.recorded_by == billing_agent
    assert renewal.status in {"paid", "activating", "active"}
    assert renewal.period_end is not None
    # The payment's entry comes last, with its receipt number (taken last: see below).
    assert list(AuditEntry.objects.order_by("id").values_list("action", "object_repr")) == [
        ("renewal.requested", str(renewal)),
        ("renewal.paid", str(renewal)),
        ("payment.recorded", payment.receipt_number),
    ]


def test_a_cash_payment_takes_its_receipt_number_last_so_the_years_sequence_is_locked_briefly(
    line, plan, staff_actor
):
    renewal = pending(line, plan, staff_actor)
    cash = {"method": "cash", "amount": Decimal("19.90"), "currency": "EUR", "reference": ""}

    def pay():
        payment_record_manual(renewal=renewal, actor=staff_actor, **cash)

    assert_receipt_number_taken_last(pay)


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"amount": Decimal("19.00")}, "amount"),
        ({"currency": "CNY"}, "currency"),
        ({"method": "card"}, "method"),
        ({"method": "bank_transfer", "reference": "  "}, "reference"),
    ],
)
def test_a_wrong_manual_payment_changes_nothing(line, plan, staff_actor, changes, code):
    renewal = pending(line, plan, staff_actor)
    arguments = {"method": "cash", "amount": Decimal("19.90"), "currency": "EUR", "reference": "", **changes}
    with pytest.raises(DomainError) as excinfo:
        payment_record_manual(renewal=renewal, actor=staff_actor, **arguments)
    assert excinfo.value.code == code
    assert Payment.objects.count() == 0
    renewal.refresh_from_db()
    assert renewal.status == "pending_payment"


def test_a_renewal_is_paid_by_hand_only_once(line, plan, staff_actor):
    renewal = pending(line, plan, staff_actor)
    payment_record_manual(
        renewal=renewal,
        method="cash",
        amount=Decimal("19.90"),
        currency="EUR",
        reference="",
        actor=staff_actor,
    )
    with pytest.raises(DomainError) as excinfo:
        payment_record_manual(
            renewal=renewal,
            method="cash",
            amount=Decimal("19.90"),
            currency="EUR",
            reference="",
            actor=staff_actor,
        )
    assert excinfo.value.code == "already_paid"
    assert Payment.objects.count() == 1


def test_renewing_with_the_same_form_twice_records_one_payment(line, plan, staff_actor):
    arguments = {
        "line": line,
        "plan": plan,
        "currency": "EUR",
        "method": "bank_transfer",
        "amount": Decimal("19.90"),
        "reference": "VIR-2026-0042",
        "idempotency_key": "form-1",
        "actor": staff_actor,
    }
    first = line_renew_with_manual_payment(**arguments)
    second = line_renew_with_manual_payment(**arguments)
    assert first.pk == second.pk
    assert (Payment.objects.count(), Renewal.objects.count()) == (1, 1)


def test_a_refused_payment_leaves_no_renewal_behind(line, plan, staff_actor):
    with pytest.raises(DomainError):
        line_renew_with_manual_payment(
            line=line,
            plan=plan,
            currency="EUR",
            method="cash",
            amount=Decimal("1.00"),
            reference="",
            idempotency_key="form-2",
            actor=staff_actor,
        )
    assert (Payment.objects.count(), Renewal.objects.count()) == (0, 0)
