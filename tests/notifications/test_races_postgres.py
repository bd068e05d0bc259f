"""Jobs and send tasks running at once on several workers (PostgreSQL, real threads)."""

import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from notifications.models import NotificationLog
from notifications.services import _deliver, expiry_reminders_send, notification_send, notify
from tests.concurrency import run_concurrently
from tests.factories import SimLineFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_eight_reminder_jobs_at_once_write_and_send_each_message_once(on_postgres, plan, mailoutbox):
    lines = SimLineFactory.create_batch(20, plan=plan, expires_at=timezone.now() + timedelta(days=2))
    written = run_concurrently(lambda i: expiry_reminders_send(), 8)
    assert all(isinstance(count, int) for count in written), written
    assert sum(written) == 20
    assert NotificationLog.objects.count() == 20
    assert NotificationLog.objects.filter(status="sent").count() == 20
    assert sorted(message.to[0] for message in mailoutbox) == sorted(line.customer.email for line in lines)


def unsent_reminder(plan):
    """A reminder written but not sent, as if its send task were lost (outside a test
    transaction, notify's after-commit send runs at once: undo it)."""
    line = SimLineFactory(plan=plan, expires_at=timezone.now() + timedelta(days=2))
    [log] = notify(kind="expiry_3d", customer=line.customer, line=line, period_end=line.expires_at)
    NotificationLog.objects.filter(pk=log.pk).update(status="pending", sent_at=None, attempts=0)
    mail.outbox.clear()
    return log


def test_ten_workers_sending_one_message_send_it_once(on_postgres, plan, mailoutbox):
    log = unsent_reminder(plan)
    outcomes = run_concurrently(lambda i: notification_send(log_id=log.pk), 10)
    assert sorted(outcomes) == ["sent"] + ["skipped"] * 9
    assert len(mailoutbox) == 1


def test_control_without_the_claim_workers_send_duplicates(on_postgres, plan, mailoutbox):
    """Shows the race the claim prevents: checking the status, then sending, then marking
    sent lets several workers through."""
    log = unsent_reminder(plan)
    all_have_read = threading.Barrier(10)

    def send_naively(i):
        fresh = NotificationLog.objects.get(pk=log.pk)
        # Every worker reads before any sends: the interleaving that the claim exists to stop,
        # forced so that the control does not depend on thread timing.
        all_have_read.wait(timeout=30)
        if fresh.status != "sent":
            _deliver(fresh)
            NotificationLog.objects.filter(pk=log.pk).update(status="sent", sent_at=timezone.now())

    run_concurrently(send_naively, 10)
    assert len(mail.outbox) == 10
