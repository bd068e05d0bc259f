"""Payment pages left open on a renewal paid another way are cancelled at Stripe even when
the task queued at the payment's commit was lost (the broker down, a worker killed): a
periodic sweep finds them, so a forgotten browser tab can never take a second payment."""

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from payments import stripe_gateway
from payments.checkout import payment_start
from payments.manual import payment_record_manual
from payments.open_attempts import LEFT_OPEN_AFTER, attempts_left_open_cancel
from plans.renewals import renewal_request
from reseller.actors import Actor
from tests.factories import SimLineFactory

ACTOR = Actor.system("tests")


def _renewal(plan, key):
    line = SimLineFactory(plan=plan, expires_at=timezone.now() + timedelta(days=3))
    return renewal_request(
        line=line, plan=plan, currency="EUR", channel="self_service", idempotency_key=key, actor=ACTOR
    )


def _pay_in_cash(renewal, staff_actor):
    # In a test the transaction never commits: the cancellation queued at commit is lost, as
    # when the broker is down.
    payment_record_manual(
        renewal=renewal,
        method="cash",
        amount=Decimal("19.90"),
        currency="EUR",
        reference="till 1",
        actor=staff_actor,
    )


def test_a_page_left_open_on_a_renewal_paid_in_cash_is_cancelled_by_the_sweep(stripe_peer, plan, staff_actor):
    renewal = _renewal(plan, "left-open-1")
    card = payment_start(renewal=renewal, method="card", actor=ACTOR).payment
    _pay_in_cash(renewal, staff_actor)

    assert attempts_left_open_cancel() == 0  # too early: its own task may still be on its way
    card.refresh_from_db()
    assert card.status == "pending"

    with time_machine.travel(timezone.now() + LEFT_OPEN_AFTER + timedelta(minutes=1)):
        assert attempts_left_open_cancel() == 1
        assert attempts_left_open_cancel() == 0
    card.refresh_from_db()
    assert card.status == "cancelled"
    assert stripe_gateway.payment_intent_retrieve(card.stripe_payment_intent_id)["status"] == "canceled"


def test_the_sweep_leaves_the_pages_of_renewals_still_waiting_for_payment(stripe_peer, plan):
    renewal = _renewal(plan, "left-open-2")
    card = payment_start(renewal=renewal, method="card", actor=ACTOR).payment

    with time_machine.travel(timezone.now() + timedelta(days=1)):
        assert attempts_left_open_cancel() == 0
    card.refresh_from_db()
    assert card.status == "pending"
    assert stripe_gateway.payment_intent_retrieve(card.stripe_payment_intent_id)["status"] != "canceled"


@pytest.mark.django_db
def test_the_sweep_is_scheduled_every_ten_minutes():
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.get(task="payments.tasks.cancel_attempts_left_open")
    assert (task.enabled, task.interval.every, task.interval.period) == (True, 10, "minutes")
