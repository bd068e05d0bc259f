"""A worker killed (SIGKILL) after claiming a receipt's e-mail and before sending it: the
redelivered task finds the claim and leaves it, and the catch-up job sends the receipt once
the claim has run out. One receipt, none lost."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from payments.models import Payment
from payments.receipt_mail import RECEIPT_CLAIM_SECONDS, receipts_unsent_send
from reseller.faults import fault_arm, fault_fired
from tests.factories import PaymentFactory
from tests.faults.processes import celery_worker, process_env, redis_server, sender, wait_for

pytestmark = [
    pytest.mark.faults,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture
def worker(on_postgres, tmp_path):
    with redis_server() as broker:
        env = process_env(broker=broker.url(0), backend=broker.url(1), FAULT_INJECTION_DIR=str(tmp_path))
        with celery_worker(env) as running:
            running.broker, running.faults = broker, tmp_path
            yield running


def test_a_worker_killed_between_claiming_and_sending_a_receipt_loses_nothing(
    plan, worker, mailoutbox, settings
):
    payment = PaymentFactory(
        renewal__line__plan=plan,
        paid_at=timezone.now() - timedelta(minutes=settings.NOTIFICATION_RESEND_AFTER_MINUTES),
        stripe_payment_intent_id="pi_receipt_lost",
    )
    since = worker.mark()
    fault_arm(worker.faults, "receipt.before_send", "kill")

    client = sender(worker.broker.url(0), worker.broker.url(1))
    # The task's message goes back to the queue when its process dies; the new child runs it
    # and finds the receipt claimed.
    result = client.send_task("payments.tasks.send_receipt", (payment.pk,))
    assert result.get(timeout=120, disable_sync_subtasks=False) == "sent or being sent"
    assert fault_fired(worker.faults, "receipt.before_send")
    assert wait_for(lambda: "WorkerLostError" in worker.output(since)), worker.output(since)
    payment.refresh_from_db()
    assert payment.receipt_sent_at is None and payment.receipt_claimed_until is not None

    assert receipts_unsent_send() == 0  # the claim still holds: the worker may be sending
    with time_machine.travel(timezone.now() + timedelta(seconds=RECEIPT_CLAIM_SECONDS + 1)):
        assert receipts_unsent_send() == 1
        assert receipts_unsent_send() == 0
    assert [m.to for m in mailoutbox] == [[payment.customer.email]]
    assert Payment.objects.get(pk=payment.pk).receipt_sent_at is not None
