"""A Celery worker's child process killed with SIGKILL (the OOM killer, a lost machine) at a
named point of the auto-renew charge or of the activation, on a real worker over a real
Redis broker, configured as in production (acks_late, reject on worker lost): the message
goes back to the queue and is run again, and the periodic jobs finish what the kill left.
Exactly one charge at Stripe, one period, nothing lost."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from carrier.models import SandboxActivation
from payments.autorenew import auto_renew_run
from payments.models import Payment
from payments.reconciliation import reconcile
from plans.activation import activation_sweep
from plans.models import Renewal
from tests.faults.invariants import assert_ledger_consistent
from tests.faults.processes import celery_worker, process_env, sender, wait_for

pytestmark = [
    pytest.mark.faults,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def _armed_worker(broker, peer, tmp_path, fault: str):
    env = process_env(
        broker=broker.url(0),
        backend=broker.url(1),
        stripe_peer=peer,
        FAULT_INJECTION=fault,
        FAULT_INJECTION_ONCE_DIR=str(tmp_path),
    )
    return celery_worker(env)


def _run_auto_renew_job(broker) -> int:
    """What beat does every 30 minutes: publish the job; its result is the run that finished
    (the killed one stores none)."""
    return sender(broker.url(0), broker.url(1)).send_task("payments.tasks.auto_renew_lines").get(timeout=120)


def _killed(worker) -> bool:
    return "WorkerLostError" in worker.output() or "SIGKILL" in worker.output()


@pytest.mark.parametrize(
    ("point", "recovery"),
    [
        ("autorenew.before_charge", "next auto-renew run"),
        ("autorenew.after_charge", "next auto-renew run"),
        ("autorenew.after_charge", "reconciliation"),
    ],
)
def test_a_worker_killed_around_the_charge_leaves_one_charge_and_one_period(
    auto_line, fresh_peer, broker, tmp_path, point, recovery
):
    expiry = auto_line.expires_at
    with _armed_worker(broker, fresh_peer, tmp_path, f"{point}=kill") as worker:
        # The redelivered job finds the attempt of the killed one in flight and leaves it.
        assert _run_auto_renew_job(broker) == 0
        assert (tmp_path / point).exists() and _killed(worker)

    payment = Payment.objects.get(renewal__line=auto_line)
    assert (payment.status, payment.stripe_payment_intent_id) == ("pending", "")
    charges = fresh_peer.client().v1.payment_intents.list({"customer": auto_line.customer.stripe_customer_id})
    assert len(charges.data) == (1 if point == "autorenew.after_charge" else 0)

    later = timezone.now() + timedelta(minutes=11)  # past the in-flight guard of the attempt
    with time_machine.travel(later, tick=True):
        if recovery == "reconciliation":
            run = reconcile()
            assert [note["detail"] for note in run.repaired] == ["pending → succeeded"]
        # Either way the next run of the job changes nothing, or charges under the same key.
        auto_renew_run()

    assert Payment.objects.filter(renewal__line=auto_line).count() == 1
    renewal = Renewal.objects.get(line=auto_line)
    assert (renewal.status, renewal.period_start) == ("active", expiry)
    assert_ledger_consistent(stripe_peer=fresh_peer)


@pytest.mark.parametrize(
    "fault",
    ["activation.before_carrier=kill", "activation.before_commit=kill", "activation.before_commit=drop_db"],
)
def test_a_worker_lost_during_activation_is_recovered_by_the_sweep_with_one_period(
    auto_line, fresh_peer, broker, tmp_path, fault
):
    """The charge goes through; the activation task it enqueues dies (or loses its database
    session) on the worker. A redelivery finds the attempt still presumed running and leaves
    it; the sweep retries it once the attempt is presumed lost."""
    point = fault.partition("=")[0]
    with _armed_worker(broker, fresh_peer, tmp_path, fault) as worker:
        assert _run_auto_renew_job(broker) == 1
        assert wait_for(lambda: (tmp_path / point).exists())
        # The task ran again after the kill, or failed on the dropped session: either way done.
        assert wait_for(
            lambda: worker.output().count("plans.tasks.activate_renewal") >= (3 if "kill" in fault else 2),
            timeout=60,
        ), worker.output()

    renewal = Renewal.objects.get(line=auto_line)
    assert renewal.status == "activating"  # paid, its period granted, the carrier not confirmed
    later = timezone.now() + timedelta(minutes=16)
    with time_machine.travel(later, tick=True):
        assert activation_sweep() == [renewal.pk]  # activated in-process here (no broker)
    renewal.refresh_from_db()
    assert renewal.status == "active"
    assert SandboxActivation.objects.filter(reference=f"renewal-{renewal.pk}").count() == 1
    assert_ledger_consistent(stripe_peer=fresh_peer)
