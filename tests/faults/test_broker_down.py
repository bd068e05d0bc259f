"""The broker down while renewals are paid: the auto-renew job charges and commits, every task
it asks for after the commit (activation, receipt, closing other payment pages) fails to be
published. Once the broker is back, the periodic sweeps find what the lost tasks should have
done: every paid renewal activated, every receipt sent, one charge and one period each."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from payments.models import Payment
from payments.receipt_mail import receipts_unsent_send
from plans.models import Renewal
from tests.faults.conftest import line_due_for_auto_renew, renew_due_lines
from tests.faults.invariants import assert_ledger_consistent
from tests.faults.processes import celery_worker, process_env, run_python, sender, wait_for

pytestmark = pytest.mark.faults

# A process of ours with a broker configured (not in-process tasks), running the job.
AUTO_RENEW = """
from payments.autorenew import lines_due
from payments.tasks import auto_renew_line_task
due = list(lines_due().values_list("pk", "expires_at"))
print("renewed", [str(auto_renew_line_task(pk, expires_at.isoformat())) for pk, expires_at in due])
"""


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_renewals_paid_while_the_broker_is_down_are_activated_and_receipted_once_it_is_back(
    plan, fresh_peer, broker
):
    lines = [line_due_for_auto_renew(plan, fresh_peer) for _ in range(3)]
    broker.stop()

    # As configured in production: no result backend (a Redis result backend that is down too
    # makes every publish wait for its own retries, minutes per task).
    env = process_env(broker=broker.url(0), stripe_peer=fresh_peer)
    job = run_python(AUTO_RENEW, env)
    assert job.returncode == 0, job.stderr
    assert "renewed ['succeeded', 'succeeded', 'succeeded']" in job.stdout
    assert "plans.tasks.activate_renewal" in job.stderr or "Error" in job.stderr  # publishing failed
    renewals = Renewal.objects.filter(line__in=lines)
    assert sorted(renewals.values_list("status", flat=True)) == ["paid"] * 3  # committed, not lost
    payments = Payment.objects.filter(renewal__line__in=lines, status="succeeded")
    assert payments.count() == 3 and not payments.filter(receipt_sent_at__isnull=False).exists()

    broker.start()
    # Beat's jobs, here due at once (their delays set to 0): the activation sweep and the
    # receipts' catch-up, on a worker over the broker that is back.
    env = {
        **env,
        "CELERY_RESULT_BACKEND": broker.url(1),
        "ACTIVATION_RETRY_AFTER_MINUTES": "0",
        "NOTIFICATION_RESEND_AFTER_MINUTES": "0",
    }
    with celery_worker(env):
        beat = sender(broker.url(0), broker.url(1))
        assert (
            beat.send_task("plans.tasks.sweep_activations").get(timeout=120, disable_sync_subtasks=False) == 3
        )
        assert (
            beat.send_task("payments.tasks.send_unsent_receipts").get(
                timeout=120, disable_sync_subtasks=False
            )
            == 3
        )
        assert wait_for(lambda: renewals.filter(status="active").count() == 3, timeout=60)

    assert not payments.filter(receipt_sent_at__isnull=True).exists()
    assert_ledger_consistent(stripe_peer=fresh_peer)


def test_the_receipts_catch_up_sends_each_lost_receipt_once_and_only_recent_ones(
    auto_line, mailoutbox, settings
):
    """The same catch-up in-process: the send tasks asked for at commit never ran (a plain
    test transaction never commits)."""
    renew_due_lines()
    payment = Payment.objects.get(renewal__line=auto_line)
    assert payment.receipt_sent_at is None
    assert receipts_unsent_send() == 0  # too early: its own task may still be on its way
    with time_machine.travel(timezone.now() + timedelta(minutes=settings.NOTIFICATION_RESEND_AFTER_MINUTES)):
        assert receipts_unsent_send() == 1
        assert receipts_unsent_send() == 0
    assert [m.to for m in mailoutbox] == [[auto_line.customer.email]]
    Payment.objects.filter(pk=payment.pk).update(receipt_sent_at=None)
    with time_machine.travel(timezone.now() + timedelta(days=3)):
        assert receipts_unsent_send() == 0  # old news is not mailed after an outage
