"""Celery tasks: thin, idempotent, taking ids; the rules are in the services they call."""

import logging

from celery import shared_task

from plans.activation import ActivationFailed, activation_sweep, renewal_activate
from plans.expiry import lines_expire

logger = logging.getLogger(__name__)

# Backoff between tries of one activation: 30 s, 1, 2, 4, 8, 16 min… capped at an hour. After
# the last, the sweep takes over (every few minutes, for renewals paid 15+ minutes ago).
ACTIVATION_MAX_RETRIES = 8


@shared_task(bind=True, max_retries=ACTIVATION_MAX_RETRIES, acks_late=True)
def activate_renewal(self, renewal_id: int, retry: bool = True) -> None:
    try:
        renewal_activate(renewal_id=renewal_id)
    except ActivationFailed as exc:
        if not retry:
            logger.info(
                "activation of renewal %s failed (%s); the next sweep will try again", renewal_id, exc
            )
            return
        if self.request.retries >= self.max_retries:
            logger.warning(
                "activation of renewal %s failed %s times; left to the sweep", renewal_id, self.max_retries
            )
            return
        if self.request.is_eager:
            # In-process mode (embedded default) cannot schedule a later try: try again now.
            activate_renewal.apply(args=(renewal_id, retry), retries=self.request.retries + 1, throw=True)
            return
        raise self.retry(exc=exc, countdown=min(30 * 2**self.request.retries, 3600)) from exc


@shared_task
def sweep_activations() -> int:
    return len(activation_sweep())


@shared_task
def expire_lines() -> int:
    return lines_expire()
