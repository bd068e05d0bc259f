"""A paid renewal is never lost: activation is tried, retried, swept up and escalated."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from accounts.models import AuditEntry, SimLine
from carrier.models import ActivationAttempt, SandboxActivation
from carrier.sandbox import sandbox_fail_next
from plans.activation import ActivationFailed, activation_sweep, renewal_activate, stuck_renewals
from plans.expiry import lines_expire
from plans.models import Renewal
from plans.renewals import renewal_mark_paid, renewal_request
from reseller.actors import Actor
from tests.factories import SimLineFactory

SYSTEM = Actor.system("tests")


def paid_renewal(line, plan, key="k"):
    renewal = renewal_request(
        line=line, plan=plan, currency="EUR", channel="admin", idempotency_key=key, actor=SYSTEM
    )
    return renewal_mark_paid(renewal_id=renewal.pk, actor=SYSTEM, reason="paid in a test")


def attempts(renewal):
    return list(
        ActivationAttempt.objects.filter(renewal=renewal)
        .order_by("number")
        .values_list("number", "succeeded")
    )


def test_payment_hands_the_renewal_to_activation_after_commit(line, plan, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        renewal = paid_renewal(line, plan)
        assert Renewal.objects.get(pk=renewal.pk).status == "paid"  # nothing ran before commit
        assert not ActivationAttempt.objects.exists()
    assert callbacks
    renewal.refresh_from_db()
    assert renewal.status == "active"
    assert renewal.carrier_reference.startswith("SBX-")
    assert attempts(renewal) == [(1, True)]
    assert SandboxActivation.objects.get(reference=f"renewal-{renewal.pk}").period_end == renewal.period_end


def test_nothing_is_enqueued_when_the_payment_rolls_back(line, plan, django_capture_on_commit_callbacks):
    from django.db import transaction

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            paid_renewal(line, plan)
            raise RuntimeError("crash after paying, before commit")
    assert callbacks == []
    assert Renewal.objects.count() == 0
    assert ActivationAttempt.objects.count() == 0


def test_three_failures_then_success_end_active_with_four_attempts(
    line, plan, django_capture_on_commit_callbacks
):
    sandbox_fail_next(times=3, iccid=line.iccid)
    with django_capture_on_commit_callbacks(execute=True):
        renewal = paid_renewal(line, plan)
    renewal.refresh_from_db()
    assert renewal.status == "active"
    assert renewal.activation_attempts == 4
    assert attempts(renewal) == [(1, False), (2, False), (3, False), (4, True)]
    assert ActivationAttempt.objects.filter(renewal=renewal, error="network timeout").count() == 3
    assert SandboxActivation.objects.filter(reference=f"renewal-{renewal.pk}").count() == 1
    assert AuditEntry.objects.filter(action="renewal.activated", object_id=str(renewal.pk)).count() == 1


def test_a_failed_try_leaves_the_renewal_activating_and_paid(line, plan):
    renewal = paid_renewal(line, plan)  # on_commit not run: as if the task were lost
    sandbox_fail_next(times=1)
    with pytest.raises(ActivationFailed):
        renewal_activate(renewal_id=renewal.pk)
    renewal.refresh_from_db()
    assert renewal.status == "activating"
    line.refresh_from_db()
    assert line.expires_at == renewal.period_end  # the customer keeps what they paid for


def test_running_activation_twice_activates_once(line, plan):
    renewal = paid_renewal(line, plan)
    renewal_activate(renewal_id=renewal.pk)
    again = renewal_activate(renewal_id=renewal.pk)
    assert again.status == "active"
    assert attempts(renewal) == [(1, True)]


def test_a_try_running_on_another_worker_is_not_started_again(line, plan):
    renewal = paid_renewal(line, plan)
    ActivationAttempt.objects.create(renewal=renewal, number=1, started_at=timezone.now())
    Renewal.objects.filter(pk=renewal.pk).update(activation_attempts=1, status="activating")
    result = renewal_activate(renewal_id=renewal.pk)
    assert result.status == "activating"
    assert ActivationAttempt.objects.filter(renewal=renewal).count() == 1


def test_a_try_left_unfinished_by_a_killed_worker_is_redone_after_the_timeout(line, plan):
    renewal = paid_renewal(line, plan)
    ActivationAttempt.objects.create(
        renewal=renewal, number=1, started_at=timezone.now() - timedelta(minutes=5)
    )
    Renewal.objects.filter(pk=renewal.pk).update(activation_attempts=1, status="activating")
    assert renewal_activate(renewal_id=renewal.pk).status == "active"
    assert attempts(renewal) == [(1, None), (2, True)]


def test_the_sweep_finds_a_renewal_whose_task_was_lost(line, plan, django_capture_on_commit_callbacks):
    renewal = paid_renewal(line, plan)  # its activation task never ran
    assert activation_sweep() == []  # too recent: its own task may still be on the way
    with time_machine.travel(timezone.now() + timedelta(minutes=16)):
        with django_capture_on_commit_callbacks(execute=True):
            assert activation_sweep() == [renewal.pk]
    renewal.refresh_from_db()
    assert renewal.status == "active"


def test_a_renewal_not_active_after_24_hours_is_in_the_staff_queue(line, plan):
    renewal = paid_renewal(line, plan)
    other = paid_renewal(SimLineFactory(plan=plan), plan, key="other")
    renewal_activate(renewal_id=other.pk)
    sandbox_fail_next(times=100, iccid=line.iccid)
    later = timezone.now() + timedelta(hours=23)
    with time_machine.travel(later):
        with pytest.raises(ActivationFailed):
            renewal_activate(renewal_id=renewal.pk)
        assert list(stuck_renewals()) == []
    with time_machine.travel(later + timedelta(hours=2)):
        assert list(stuck_renewals()) == [Renewal.objects.get(pk=renewal.pk)]


def test_expiry_job_expires_lines_whose_period_ended_and_audits_it(plan):
    ended = SimLineFactory(plan=plan, expires_at=timezone.now() - timedelta(minutes=1))
    running = SimLineFactory(plan=plan, expires_at=timezone.now() + timedelta(days=1))
    assert ended.effective_status == "expired"  # already, before the job
    assert lines_expire() == 1
    assert lines_expire() == 0
    ended.refresh_from_db()
    running.refresh_from_db()
    assert (ended.status, running.status) == ("expired", "active")
    assert AuditEntry.objects.filter(action="line.expired", object_id=str(ended.pk)).count() == 1


def test_expiry_does_not_expire_a_line_renewed_meanwhile(plan):
    line = SimLineFactory(plan=plan, expires_at=timezone.now() - timedelta(minutes=1))
    stale = SimLine.objects.get(pk=line.pk)
    SimLine.objects.filter(pk=line.pk).update(expires_at=timezone.now() + timedelta(days=30))
    from reseller.errors import ConcurrentUpdate
    from reseller.states import transition

    with pytest.raises(ConcurrentUpdate):
        transition(stale, "expired", expect={"expires_at__lte": timezone.now()})
    assert lines_expire() == 0


def test_when_every_try_fails_the_payment_still_commits_and_the_sweep_owns_it(
    line, plan, django_capture_on_commit_callbacks
):
    from plans.tasks import ACTIVATION_MAX_RETRIES

    sandbox_fail_next(times=1000, iccid=line.iccid)
    with django_capture_on_commit_callbacks(execute=True):
        renewal = paid_renewal(line, plan)  # no exception reaches the caller
    renewal.refresh_from_db()
    assert renewal.status == "activating"
    assert renewal.activation_attempts == ACTIVATION_MAX_RETRIES + 1
    assert renewal.paid_at is not None


def test_the_sweep_tries_a_lost_renewal_before_ones_the_carrier_keeps_refusing(
    plan, django_capture_on_commit_callbacks
):
    chronic = paid_renewal(SimLineFactory(plan=plan), plan, key="chronic")
    Renewal.objects.filter(pk=chronic.pk).update(activation_attempts=9, status="activating")
    later = timezone.now() + timedelta(minutes=5)
    with time_machine.travel(later):
        lost = paid_renewal(SimLineFactory(plan=plan), plan, key="lost")  # its task never ran
    with time_machine.travel(later + timedelta(minutes=20)):
        with django_capture_on_commit_callbacks(execute=False):
            assert activation_sweep(limit=1) == [lost.pk]


def test_a_sweep_gives_each_renewal_one_try_not_a_chain_of_retries(
    line, plan, django_capture_on_commit_callbacks
):
    renewal = paid_renewal(line, plan)  # its task never ran
    sandbox_fail_next(times=1000, iccid=line.iccid)
    with time_machine.travel(timezone.now() + timedelta(minutes=16)):
        with django_capture_on_commit_callbacks(execute=True):
            activation_sweep()
    assert ActivationAttempt.objects.filter(renewal=renewal).count() == 1
