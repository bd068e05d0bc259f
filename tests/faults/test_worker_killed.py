"""A Celery worker's child process killed with SIGKILL (the OOM killer, a lost machine) at a
named point of the auto-renew charge or of the activation, on a real worker over a real
Redis broker, configured as in production (acks_late, reject on worker lost): the message
goes back to the queue and is run again, and the periodic jobs finish what the kill left.
Exactly one charge at Stripe, one period, nothing lost."""

from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from carrier.models import SandboxActivation
from payments.models import Payment
from payments.reconciliation import reconcile
from plans.activation import activation_sweep
from plans.models import Renewal
from reseller.faults import fault_arm, fault_fired
from tests.faults.conftest import renew_due_lines
from tests.faults.invariants import assert_ledger_consistent
from tests.faults.processes import celery_worker, process_env, redis_server, sender, wait_for

pytestmark = [
    pytest.mark.faults,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture(scope="module")
def worker(django_db_setup, django_db_blocker, stripe_peer_process, tmp_path_factory):
    """One worker for the module, on a broker of its own; each test arms the fault it wants
    (reseller.faults.fault_arm) in the worker's fault directory."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (CI always has it; set DATABASE_URL locally)")
    faults = tmp_path_factory.mktemp("faults")
    with redis_server() as broker:
        env = process_env(
            broker=broker.url(0),
            backend=broker.url(1),
            stripe_peer=stripe_peer_process,
            FAULT_INJECTION_DIR=str(faults),
        )
        with celery_worker(env) as running:
            running.broker, running.faults = broker, faults
            yield running


def _run_auto_renew_job(worker, since: int) -> None:
    """What beat does every 30 minutes: publish the job, which queues one task per line due;
    wait until the line's task has finished (after its redelivery, when it was killed)."""
    beat = sender(worker.broker.url(0), worker.broker.url(1))
    # The test waits on a worker of its own, not inside a task: Celery's guard against waiting
    # from a task is off, since a test earlier in the process may have run a worker in-process.
    assert (
        beat.send_task("payments.tasks.auto_renew_lines").get(timeout=120, disable_sync_subtasks=False) == 1
    )
    assert wait_for(
        lambda: any(
            "auto_renew_line_task[" in line and "succeeded" in line
            for line in worker.output(since).splitlines()
        ),
        timeout=120,
    ), worker.output(since)


@pytest.mark.parametrize(
    ("point", "recovery"),
    [
        ("autorenew.before_charge", "next auto-renew run"),
        ("autorenew.after_charge", "next auto-renew run"),
        ("autorenew.after_charge", "reconciliation"),
    ],
)
def test_a_worker_killed_around_the_charge_leaves_one_charge_and_one_period(
    auto_line, fresh_peer, worker, point, recovery
):
    expiry = auto_line.expires_at
    since = worker.mark()
    fault_arm(worker.faults, point, "kill")
    # The job queues the line; the redelivered task of the killed one finds its attempt in
    # flight and leaves it.
    _run_auto_renew_job(worker, since)
    assert wait_for(lambda: fault_fired(worker.faults, point) and "WorkerLostError" in worker.output(since))

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
        renew_due_lines()

    assert Payment.objects.filter(renewal__line=auto_line).count() == 1
    renewal = Renewal.objects.get(line=auto_line)
    assert (renewal.status, renewal.period_start) == ("active", expiry)
    assert_ledger_consistent(stripe_peer=fresh_peer)


@pytest.mark.parametrize(
    ("point", "action"),
    [
        ("activation.before_carrier", "kill"),
        ("activation.before_commit", "kill"),
        ("activation.before_commit", "drop_db"),
    ],
)
def test_a_worker_lost_during_activation_is_recovered_by_the_sweep_with_one_period(
    auto_line, fresh_peer, worker, point, action
):
    """The charge goes through; the activation task it enqueues dies (or loses its database
    session) on the worker. A redelivery finds the attempt still presumed running and leaves
    it; the sweep retries it once the attempt is presumed lost."""
    since = worker.mark()
    fault_arm(worker.faults, point, action)
    _run_auto_renew_job(worker, since)
    assert wait_for(lambda: fault_fired(worker.faults, point))
    # Received, killed and run again (three lines), or received and failed on the dropped
    # session (two): either way the worker is done with it.
    lines = 3 if action == "kill" else 2
    assert wait_for(
        lambda: worker.output(since).count("plans.tasks.activate_renewal") >= lines, timeout=60
    ), worker.output(since)

    renewal = Renewal.objects.get(line=auto_line)
    assert renewal.status == "activating"  # paid, its period granted, the carrier not confirmed
    later = timezone.now() + timedelta(minutes=16)
    with time_machine.travel(later, tick=True):
        assert activation_sweep() == [renewal.pk]  # activated in-process here (no broker)
    renewal.refresh_from_db()
    assert renewal.status == "active"
    assert SandboxActivation.objects.filter(reference=f"renewal-{renewal.pk}").count() == 1
    assert_ledger_consistent(stripe_peer=fresh_peer)
