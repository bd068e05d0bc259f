"""Celery tasks: thin, idempotent, taking ids; the rules are in notifications.services."""

import logging

from celery import shared_task

from notifications.services import (
    expiry_reminders_send,
    low_data_warnings_send,
    notification_send,
    notifications_resend_failed,
)

logger = logging.getLogger(__name__)

# Tries of one send on a worker: now, then after 1, 2, 4, 8 and 16 minutes. After those (and
# always in the in-process mode, which cannot wait), resend_failed_notifications takes over.
SEND_MAX_RETRIES = 5


@shared_task(bind=True, max_retries=SEND_MAX_RETRIES, acks_late=True)
def send_notification(self, log_id: int, manual: bool = False) -> str:
    outcome = notification_send(log_id=log_id, manual=manual)
    if outcome != "failed" or self.request.is_eager:
        return outcome
    if self.request.retries >= self.max_retries:
        logger.warning(
            "notification %s failed %s times; left to the resend job", log_id, self.max_retries + 1
        )
        return outcome
    raise self.retry(countdown=min(60 * 2**self.request.retries, 3600))


@shared_task
def send_expiry_reminders() -> int:
    return expiry_reminders_send()


@shared_task
def send_low_data_warnings() -> int:
    return low_data_warnings_send()


@shared_task
def resend_failed_notifications() -> int:
    return notifications_resend_failed()
