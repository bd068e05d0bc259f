"""State machines: ``transition`` moves a status with a compare-and-set, refuses what the model's
table forbids, and never lets a stale copy overwrite a newer state."""

import threading
from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from accounts.models import Correction, Partner, SimLine
from payments.models import FailedPaymentCase, Payment, Refund
from plans.models import Renewal
from reseller.errors import ConcurrentUpdate, IllegalTransition
from reseller.states import can_transition, transition, transitions
from tests.factories import PaymentFactory, RenewalFactory

MODELS_WITH_STATUS = [Partner, SimLine, Correction, Renewal, Payment, Refund, FailedPaymentCase]


def _pending_renewal(**kwargs) -> Renewal:
    return RenewalFactory(
        status=Renewal.Status.PENDING_PAYMENT, paid_at=None, period_start=None, period_end=None, **kwargs
    )


def _pending_payment(**kwargs) -> Payment:
    return PaymentFactory(
        renewal=_pending_renewal(),
        status=Payment.Status.PENDING,
        paid_at=None,
        receipt_number=None,
        stripe_payment_intent_id="pi_3Test000000000001",
        **kwargs,
    )


# ---------------------------------------------------------------- the tables


def test_transitions_freezes_the_table():
    table = transitions({"open": {"closed"}, "closed": set()})

    assert table == {"open": frozenset({"closed"}), "closed": frozenset()}
    assert all(isinstance(targets, frozenset) for targets in table.values())


@pytest.mark.parametrize(
    "table",
    [
        {"pending": {"paid"}},
        {"pending": {"succeeded", "failled"}, "succeeded": set(), "failed": set()},
        {"open": {"closed"}, "closed": {"reopened"}},
    ],
)
def test_transitions_refuses_a_table_naming_an_unknown_state(table):
    with pytest.raises(ValueError, match="unknown states"):
        transitions(table)


@pytest.mark.parametrize("model", MODELS_WITH_STATUS, ids=lambda m: m.__name__)
def test_each_models_table_names_exactly_its_status_choices(model):
    # A state in the table but not in the choices could never be stored (the database refuses
    # it); a choice missing from the table could never be left.
    assert set(model.STATUS_TRANSITIONS) == set(model.Status.values)


@pytest.mark.parametrize("model", MODELS_WITH_STATUS, ids=lambda m: m.__name__)
def test_no_model_allows_a_state_to_move_to_itself(model):
    assert all(state not in targets for state, targets in model.STATUS_TRANSITIONS.items())


@pytest.mark.parametrize(
    ("old", "new", "allowed"),
    [
        ("pending", "succeeded", True),
        ("pending", "failed", True),
        ("processing", "requires_action", True),
        ("succeeded", "failed", False),
        ("succeeded", "pending", False),
        ("failed", "succeeded", True),  # a declined attempt retried on the same intent
        ("cancelled", "succeeded", False),
        ("no-such-state", "succeeded", False),
    ],
)
def test_can_transition_reads_the_models_table(old, new, allowed):
    assert can_transition(Payment, old, new) is allowed


# ---------------------------------------------------------------- moving state


@pytest.mark.django_db
def test_transition_moves_the_state_in_the_database_and_on_the_instance():
    renewal = _pending_renewal()
    paid_at = timezone.now()

    transition(renewal, Renewal.Status.PAID, paid_at=paid_at)

    assert renewal.status == Renewal.Status.PAID
    assert renewal.paid_at == paid_at
    stored = Renewal.objects.get(pk=renewal.pk)
    assert stored.status == Renewal.Status.PAID
    assert stored.paid_at == paid_at


@pytest.mark.django_db
def test_transition_writes_the_extra_fields_with_the_state_in_one_update(django_assert_num_queries):
    payment = _pending_payment()

    with django_assert_num_queries(1) as captured:
        transition(payment, Payment.Status.FAILED, decline_code="insufficient_funds")

    sql = captured.captured_queries[0]["sql"]
    assert sql.startswith("UPDATE")
    # The compare-and-set: the old status is part of the WHERE clause.
    assert "WHERE" in sql and "'pending'" in sql.split("WHERE", 1)[1]
    stored = Payment.objects.get(pk=payment.pk)
    assert (stored.status, stored.decline_code) == ("failed", "insufficient_funds")


@pytest.mark.django_db
def test_transition_follows_a_renewal_through_its_happy_path():
    renewal = _pending_renewal()
    now = timezone.now()

    transition(renewal, "paid", paid_at=now, period_start=now, period_end=now + timedelta(days=30))
    transition(renewal, "activating", activation_attempts=1)
    transition(renewal, "active", activated_at=now)

    stored = Renewal.objects.get(pk=renewal.pk)
    assert stored.status == "active"
    assert stored.activation_attempts == 1
    assert stored.period_end - stored.period_start == timedelta(days=30)


@pytest.mark.django_db
def test_a_failed_renewal_can_still_be_recovered():
    renewal = _pending_renewal()
    transition(renewal, "failed")

    transition(renewal, "paid", paid_at=timezone.now())

    assert Renewal.objects.get(pk=renewal.pk).status == "paid"


# ---------------------------------------------------------------- illegal moves


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("start", "forbidden"),
    [
        ("active", "pending_payment"),
        ("active", "paid"),
        ("refunded", "active"),
        ("cancelled", "paid"),
        ("paid", "cancelled"),  # a paid renewal is refunded, never silently cancelled
        ("pending_payment", "active"),  # no entitlement without payment
        ("active", "active"),
    ],
)
def test_transition_refuses_a_move_the_renewal_table_forbids(start, forbidden):
    renewal = RenewalFactory(status=start)
    before = Renewal.objects.values().get(pk=renewal.pk)

    with pytest.raises(IllegalTransition) as excinfo:
        transition(renewal, forbidden)

    assert excinfo.value.code == "illegal_transition"
    labels = dict(Renewal.Status.choices)
    assert str(excinfo.value) == f"renewal cannot go from {labels[start]} to {labels[forbidden]}."
    assert renewal.status == start
    assert Renewal.objects.values().get(pk=renewal.pk) == before


@pytest.mark.django_db
@pytest.mark.parametrize("late", ["failed", "pending", "processing", "requires_action", "cancelled"])
def test_a_late_event_never_overwrites_a_succeeded_payment(late):
    payment = PaymentFactory(status=Payment.Status.SUCCEEDED)
    receipt = payment.receipt_number

    with pytest.raises(IllegalTransition):
        transition(payment, late, decline_code="card_declined")

    stored = Payment.objects.get(pk=payment.pk)
    assert stored.status == Payment.Status.SUCCEEDED
    assert stored.decline_code == ""
    assert stored.receipt_number == receipt


@pytest.mark.django_db
def test_a_move_the_database_refuses_leaves_instance_and_row_unchanged():
    # The table allows pending_payment → paid, but a paid renewal needs paid_at.
    renewal = _pending_renewal()

    with pytest.raises(IntegrityError), transaction.atomic():
        transition(renewal, Renewal.Status.PAID)

    assert renewal.status == Renewal.Status.PENDING_PAYMENT
    assert Renewal.objects.get(pk=renewal.pk).status == Renewal.Status.PENDING_PAYMENT


# ---------------------------------------------------------------- stale instances


@pytest.mark.django_db
def test_a_stale_copy_cannot_fail_a_payment_that_another_process_succeeded():
    payment = _pending_payment()
    webhook_copy = Payment.objects.get(pk=payment.pk)
    return_page_copy = Payment.objects.get(pk=payment.pk)
    transition(return_page_copy, "succeeded", paid_at=timezone.now(), receipt_number="R2026-900001")

    # pending → failed is legal in the table, but the row is no longer pending.
    with pytest.raises(ConcurrentUpdate) as excinfo:
        transition(webhook_copy, "failed", decline_code="card_declined")

    assert excinfo.value.code == "concurrent_update"
    assert webhook_copy.status == "pending"
    assert webhook_copy.decline_code == ""
    stored = Payment.objects.get(pk=payment.pk)
    assert (stored.status, stored.decline_code, stored.receipt_number) == ("succeeded", "", "R2026-900001")


@pytest.mark.django_db
def test_the_same_move_made_twice_from_two_copies_happens_once():
    renewal = _pending_renewal()
    first_click = Renewal.objects.get(pk=renewal.pk)
    second_click = Renewal.objects.get(pk=renewal.pk)
    first_paid_at = timezone.now()

    transition(first_click, "paid", paid_at=first_paid_at)
    with pytest.raises(ConcurrentUpdate):
        transition(second_click, "paid", paid_at=first_paid_at + timedelta(seconds=5))

    assert Renewal.objects.get(pk=renewal.pk).paid_at == first_paid_at


@pytest.mark.django_db
def test_transition_of_a_deleted_row_is_a_concurrent_update():
    renewal = _pending_renewal()
    Renewal.objects.filter(pk=renewal.pk).delete()

    with pytest.raises(ConcurrentUpdate):
        transition(renewal, "cancelled")

    assert Renewal.objects.count() == 0


# ---------------------------------------------------------------- real race on PostgreSQL

on_postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="race tests need PostgreSQL (set DATABASE_URL)"
)


def _race(payment_pk: int, move) -> list[str]:
    """Two workers load the same payment, wait for each other, then both try ``move``."""
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def worker(number: int):
        try:
            copy = Payment.objects.get(pk=payment_pk)
            barrier.wait(timeout=10)
            move(copy, number)
            outcomes.append("won")
        except ConcurrentUpdate:
            outcomes.append("lost")
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(number,)) for number in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return sorted(outcomes)


@on_postgresql_only
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_workers_confirming_one_payment_at_once_succeed_once():
    payment = _pending_payment()

    def confirm(copy, number):
        transition(copy, "succeeded", paid_at=timezone.now(), receipt_number=f"R2026-99000{number}")

    outcomes = _race(payment.pk, confirm)

    assert outcomes == ["lost", "won"]
    stored = Payment.objects.get(pk=payment.pk)
    assert stored.status == "succeeded"
    assert stored.receipt_number in {"R2026-990001", "R2026-990002"}


@on_postgresql_only
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_control_without_compare_and_set_both_workers_believe_they_won():
    # The same race with a plain save(): nothing stops the second writer, so both workers
    # would go on to grant the period. This is the race ``transition`` exists to lose.
    payment = _pending_payment()

    def confirm_naively(copy, number):
        copy.status = "succeeded"
        copy.paid_at = timezone.now()
        copy.receipt_number = f"R2026-99100{number}"
        copy.save()

    outcomes = _race(payment.pk, confirm_naively)

    assert outcomes == ["won", "won"]
