"""Sending: once per message, failures recorded, retried by the resend job until the cap."""

import socket
from datetime import timedelta

import pytest
from django.utils import timezone

from notifications.models import NotificationLog
from notifications.services import notification_send, notifications_resend_failed, notify
from notifications.tasks import resend_failed_notifications, send_notification
from tests.factories import SimLineFactory
from tests.notifications.conftest import START

DAY = timedelta(days=1)


@pytest.fixture
def line(plan, clock):
    return SimLineFactory(plan=plan, expires_at=START + 2 * DAY, customer__language="en")


def reminder(line):
    """The 3-day reminder of the line, by e-mail only, written but not sent yet."""
    [log] = notify(kind="expiry_3d", customer=line.customer, line=line, period_end=line.expires_at)
    return log


@pytest.fixture
def smtp_down(settings):
    """A real SMTP backend pointed at a local port nobody listens on: connection refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", port, 5
    return settings


def restore_locmem(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def test_a_sent_message_is_not_sent_again(line, mailoutbox):
    log = reminder(line)
    assert send_notification.delay(log.pk).get() == "sent"
    assert send_notification.delay(log.pk).get() == "skipped"
    log.refresh_from_db()
    assert (log.status, log.attempts, log.sent_at) == ("sent", 1, START)
    assert len(mailoutbox) == 1
    assert mailoutbox[0].extra_headers["Auto-Submitted"] == "auto-generated"
    assert log.provider_reference == mailoutbox[0].extra_headers["Message-ID"]


def test_a_message_being_sent_by_another_worker_is_skipped_until_its_claim_expires(line, clock, mailoutbox):
    log = reminder(line)
    NotificationLog.objects.filter(pk=log.pk).update(claimed_until=START + timedelta(minutes=5), attempts=1)
    assert notification_send(log_id=log.pk) == "skipped"
    assert mailoutbox == []
    clock.move_to(START + timedelta(minutes=6))  # that worker died mid-send
    assert notification_send(log_id=log.pk) == "sent"
    log.refresh_from_db()
    assert (log.status, log.attempts, log.claimed_until) == ("sent", 2, None)
    assert len(mailoutbox) == 1


def test_a_failed_email_is_marked_failed_and_resent_by_the_resend_job(
    line, clock, smtp_down, django_capture_on_commit_callbacks, mailoutbox
):
    with django_capture_on_commit_callbacks(execute=True):
        log = reminder(line)  # no broker: sent in-process after commit, and it fails
    log.refresh_from_db()
    assert (log.status, log.attempts, log.sent_at) == ("failed", 1, None)
    assert "ConnectionRefusedError" in log.error

    restore_locmem(smtp_down)  # the mail server is back
    clock.move_to(START + timedelta(minutes=5))
    assert resend_failed_notifications.delay().get() == 0  # too early: left alone
    assert mailoutbox == []
    clock.move_to(START + timedelta(minutes=11))
    assert resend_failed_notifications.delay().get() == 1
    assert resend_failed_notifications.delay().get() == 0
    log.refresh_from_db()
    assert (log.status, log.attempts, log.error) == ("sent", 2, "")
    assert log.sent_at == START + timedelta(minutes=11)
    assert len(mailoutbox) == 1
    assert mailoutbox[0].subject == log.subject


def test_a_message_whose_send_task_was_lost_is_sent_by_the_resend_job(line, clock, mailoutbox):
    log = reminder(line)  # committed, but its send task never ran (broker down, worker killed)
    assert notifications_resend_failed() == 0
    clock.move_to(START + timedelta(minutes=10))
    assert notifications_resend_failed() == 1
    log.refresh_from_db()
    assert (log.status, log.attempts) == ("sent", 1)
    assert len(mailoutbox) == 1


def test_the_resend_job_gives_up_after_the_maximum_number_of_tries(line, clock, smtp_down, mailoutbox):
    smtp_down.NOTIFICATION_MAX_ATTEMPTS = 3
    log = reminder(line)
    tries = []
    for step in range(1, 6):
        clock.move_to(START + step * timedelta(minutes=11))
        notifications_resend_failed()
        tries.append(NotificationLog.objects.get(pk=log.pk).attempts)
    assert tries == [1, 2, 3, 3, 3]
    restore_locmem(smtp_down)
    clock.move_to(START + DAY)
    assert notifications_resend_failed() == 0
    assert send_notification.delay(log.pk).get() == "skipped"
    assert NotificationLog.objects.get(pk=log.pk).status == "failed"
    assert mailoutbox == []


def test_in_process_mode_marks_a_failure_without_retrying_at_once(
    line, smtp_down, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        log = reminder(line)
    assert NotificationLog.objects.get(pk=log.pk).attempts == 1


def test_the_database_refuses_a_second_message_with_the_same_key(line):
    from django.db import IntegrityError, transaction

    log = reminder(line)
    duplicate = NotificationLog(
        customer=log.customer,
        line=log.line,
        kind=log.kind,
        channel=log.channel,
        period_end=log.period_end,
        dedupe_key=log.dedupe_key,
        language="en",
        recipient="other@example.com",
        body="again",
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        duplicate.save()
    assert notify(kind="expiry_3d", customer=line.customer, line=line, period_end=line.expires_at) == []
    assert NotificationLog.objects.count() == 1


def test_a_reminder_without_its_period_is_refused(line):
    with pytest.raises(ValueError, match="needs its line and period"):
        notify(kind="expiry_3d", customer=line.customer, line=line)


def test_sent_at_is_the_moment_of_the_send(line, clock, mailoutbox):
    log = reminder(line)
    clock.move_to(START + timedelta(seconds=30))
    notification_send(log_id=log.pk)
    log.refresh_from_db()
    assert log.sent_at == timezone.now()
    assert log.created_at == START


def test_the_notification_jobs_are_scheduled_and_registered(db):
    from django_celery_beat.models import PeriodicTask

    from reseller.celery import app

    scheduled = dict(
        PeriodicTask.objects.filter(task__startswith="notifications.").values_list("task", "interval__every")
    )
    assert scheduled == {
        "notifications.tasks.send_expiry_reminders": 15,
        "notifications.tasks.send_low_data_warnings": 30,
        "notifications.tasks.resend_failed_notifications": 5,
    }
    assert set(scheduled) | {"notifications.tasks.send_notification"} <= set(app.tasks)
