"""The renewal flow tells the customer when the renewal is active, and once when its
activation is late; both after the transaction that decided it commits."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from carrier.models import SandboxFault
from carrier.sandbox import sandbox_fail_next
from notifications.models import NotificationLog
from notifications.services import notify_renewal_active
from plans.activation import activation_sweep
from plans.models import Renewal
from plans.renewals import renewal_mark_paid, renewal_request
from reseller.actors import Actor
from tests.factories import SimLineFactory
from tests.notifications.conftest import START, logs

SYSTEM = Actor.system("tests")
DAY = timedelta(days=1)


def paid_renewal(line, plan, key="k"):
    renewal = renewal_request(
        line=line, plan=plan, currency="EUR", channel="admin", idempotency_key=key, actor=SYSTEM
    )
    return renewal_mark_paid(renewal_id=renewal.pk, actor=SYSTEM, reason="paid in a test")


@pytest.fixture
def line(plan, clock):
    """Ends in 5 days, on 6 December 2026 at 17:00 in Shanghai; the holder reads English."""
    return SimLineFactory(
        plan=plan, expires_at=START + 5 * DAY, customer__language="en", customer__timezone="Asia/Shanghai"
    )


def test_an_activated_renewal_is_confirmed_by_email_and_sms_with_its_new_period(
    line, plan, django_capture_on_commit_callbacks, mailoutbox, sms_outbox
):
    with django_capture_on_commit_callbacks(execute=True):
        renewal = paid_renewal(line, plan)
    renewal.refresh_from_db()
    assert renewal.status == "active"
    assert logs(renewal=renewal) == [("renewal_active", "email"), ("renewal_active", "sms")]
    assert [message.subject for message in mailoutbox] == ["Your SIM line is renewed until Jan. 5, 2027"]
    body = mailoutbox[0].body
    assert (
        f'the plan "{plan.name_en}" on line {line.msisdn} (SIM …{line.iccid[-4:]}) '
        "runs from Dec. 6, 2026 at 17:00 to Jan. 5, 2027 at 17:00 (Asia/Shanghai time)."
    ) in body
    assert "You renewed early, so the new period starts when the previous one ends: no day is lost." in body
    assert [(message.to, message.body) for message in sms_outbox] == [
        (
            line.customer.phone,
            f"Thank you! Your SIM line ending {line.msisdn[-4:]} is renewed until Jan. 5, 2027 at 17:00.",
        )
    ]
    assert set(NotificationLog.objects.values_list("status", flat=True)) == {"sent"}


def test_a_renewal_of_an_expired_line_does_not_claim_to_be_early(
    plan, clock, django_capture_on_commit_callbacks, mailoutbox
):
    line = SimLineFactory(plan=plan, expires_at=START - DAY, status="expired", customer__language="en")
    with django_capture_on_commit_callbacks(execute=True):
        paid_renewal(line, plan)
    assert len(mailoutbox) == 1
    assert "renewed early" not in mailoutbox[0].body


def test_no_confirmation_while_the_activation_fails(
    line, plan, django_capture_on_commit_callbacks, mailoutbox, sms_outbox
):
    sandbox_fail_next(times=1000, iccid=line.iccid)
    with django_capture_on_commit_callbacks(execute=True):
        renewal = paid_renewal(line, plan)
    renewal.refresh_from_db()
    assert renewal.status == "activating"
    assert NotificationLog.objects.count() == 0
    assert mailoutbox == []
    assert sms_outbox == []


def test_the_confirmation_is_written_once_however_often_it_is_asked_for(line, plan):
    renewal = paid_renewal(line, plan)
    first = notify_renewal_active(renewal)
    again = notify_renewal_active(renewal)
    assert [log.channel for log in first] == ["email", "sms"]
    assert again == []
    assert NotificationLog.objects.filter(kind="renewal_active").count() == 2


def test_nothing_is_sent_when_the_transaction_that_wrote_the_message_rolls_back(
    line, plan, django_capture_on_commit_callbacks, mailoutbox
):
    renewal = paid_renewal(line, plan)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            notify_renewal_active(renewal)
            raise RuntimeError("crash before commit")
    assert callbacks == []
    assert NotificationLog.objects.count() == 0
    assert mailoutbox == []


def test_a_late_activation_is_told_once_however_many_sweeps_retry_it(
    line, plan, clock, django_capture_on_commit_callbacks, mailoutbox, sms_outbox
):
    renewal = paid_renewal(line, plan)  # its activation task was lost
    sandbox_fail_next(times=1000, iccid=line.iccid)
    for minutes in (5, 16, 21, 26):
        clock.move_to(START + timedelta(minutes=minutes))
        with django_capture_on_commit_callbacks(execute=True):
            activation_sweep()
    renewal.refresh_from_db()
    assert renewal.status == "activating"
    assert logs(renewal=renewal) == [("activation_delayed", "email")]  # never by SMS
    assert [message.subject for message in mailoutbox] == [
        "Payment received: activating your SIM plan is taking longer than usual"
    ]
    assert "you do not need to pay again" in mailoutbox[0].body
    assert "runs until Jan. 5, 2027 at 17:00 (Asia/Shanghai time)" in mailoutbox[0].body
    assert sms_outbox == []

    SandboxFault.objects.filter(iccid=line.iccid).delete()  # the carrier is back
    clock.move_to(START + timedelta(minutes=31))
    with django_capture_on_commit_callbacks(execute=True):
        activation_sweep()
    renewal.refresh_from_db()
    assert renewal.status == "active"
    assert logs(renewal=renewal) == [
        ("activation_delayed", "email"),
        ("renewal_active", "email"),
        ("renewal_active", "sms"),
    ]


def test_a_renewal_activated_on_time_is_never_told_it_is_late(
    line, plan, clock, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        renewal = paid_renewal(line, plan)
    clock.move_to(timezone.now() + timedelta(minutes=20))
    with django_capture_on_commit_callbacks(execute=True):
        assert activation_sweep() == []
    assert Renewal.objects.get(pk=renewal.pk).status == "active"
    assert NotificationLog.objects.filter(kind="activation_delayed").count() == 0
