"""Celery tasks: thin, idempotent, taking ids; the rules are in the services they call."""

import logging

from celery import shared_task

from payments.provider_events import event_process, events_sweep
from payments.refunds import RefundNotYetVisible
from payments.stripe_gateway import ProviderError
from reseller.actors import Actor

logger = logging.getLogger(__name__)


@shared_task(bind=True, max_retries=8, acks_late=True)
def process_provider_event(self, event_pk: int) -> str:
    try:
        return event_process(event_pk)
    except RefundNotYetVisible as exc:
        # Our refund's row is not committed yet: its own transaction will be, shortly.
        if self.request.is_eager or self.request.retries >= self.max_retries:
            logger.info("event %s waits for its refund row; left to the sweep", event_pk)
            return "deferred"
        raise self.retry(exc=exc, countdown=min(5 * 2**self.request.retries, 600)) from exc
    except Exception as exc:
        if self.request.is_eager or self.request.retries >= self.max_retries:
            logger.exception("processing event %s failed; left to the sweep", event_pk)
            return "failed"
        raise self.retry(exc=exc, countdown=min(30 * 2**self.request.retries, 3600)) from exc


@shared_task
def sweep_provider_events() -> int:
    return events_sweep()


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=60, max_retries=6)
def send_receipt(payment_id: int) -> str:
    from payments.receipt_mail import receipt_email_send

    return receipt_email_send(payment_id=payment_id)


@shared_task
def send_unsent_receipts() -> int:
    from payments.receipt_mail import receipts_unsent_send

    return receipts_unsent_send()


@shared_task(acks_late=True, autoretry_for=(ProviderError,), retry_backoff=30, max_retries=6)
def cancel_open_attempts(renewal_id: int) -> None:
    from payments.checkout import attempts_cancel_open

    attempts_cancel_open(renewal_id=renewal_id, actor=Actor.system("renewal paid or closed"))


@shared_task
def cancel_attempts_left_open() -> int:
    from payments.open_attempts import attempts_left_open_cancel

    return attempts_left_open_cancel()


@shared_task
def reconcile_with_stripe() -> int:
    from payments.reconciliation import reconcile

    run = reconcile()
    return len(run.repaired)


@shared_task
def auto_renew_lines() -> int:
    """Beat's job: queues one ``auto_renew_line_task`` per due line; returns how many."""
    from payments.autorenew import auto_renew_queue

    return auto_renew_queue()


@shared_task(acks_late=True)
def auto_renew_line_task(line_id: int, expires_at: str) -> str:
    from datetime import datetime

    from payments.autorenew import auto_renew_line

    try:
        payment = auto_renew_line(line_id=line_id, expires_at=datetime.fromisoformat(expires_at))
    except Exception:  # one line's trouble is logged; the next run of the job tries it again
        logger.exception("auto-renew of line %s failed", line_id)
        return "failed"
    return payment.status if payment is not None else "nothing to charge"


@shared_task
def retry_failed_payments() -> int:
    from payments.dunning import retries_run

    return retries_run()


@shared_task
def end_payment_follow_ups() -> int:
    from payments.dunning import grace_end_run

    return grace_end_run()
