"""Payment pages left open on a renewal that was paid another way or closed.

When a renewal is paid, the attempts still open on it (a second payment page, another method)
are cancelled at Stripe by a task queued after the commit, so a page left open cannot take a
second payment. That task is lost when the broker is down at the commit or its worker dies;
this periodic sweep cancels what it left."""

import logging
from datetime import datetime, timedelta

from django.utils import timezone

from payments.checkout import attempts_cancel_open
from payments.models import Payment
from plans.models import Renewal
from reseller.actors import Actor

logger = logging.getLogger(__name__)

SYSTEM = Actor.system("open payment attempts sweep")
#: Attempts younger than this are left to the task queued when their renewal was paid.
LEFT_OPEN_AFTER = timedelta(minutes=10)


def attempts_left_open_cancel(*, now: datetime | None = None, limit: int = 200) -> int:
    """Cancel the open Stripe attempts of renewals no longer waiting for payment. Returns how
    many renewals were swept; one renewal's trouble (Stripe unreachable) is left to the next run."""
    now = now or timezone.now()
    renewal_ids = (
        Payment.objects.filter(
            status__in=Payment.OPEN_STATUSES, renewal__isnull=False, created_at__lte=now - LEFT_OPEN_AFTER
        )
        .exclude(stripe_payment_intent_id="")
        .exclude(renewal__status__in=(Renewal.Status.PENDING_PAYMENT, Renewal.Status.FAILED))
        .order_by("renewal_id")
        .values_list("renewal_id", flat=True)
        .distinct()[:limit]
    )
    swept = 0
    for renewal_id in list(renewal_ids):
        try:
            attempts_cancel_open(renewal_id=renewal_id, actor=SYSTEM)
        except Exception:
            logger.exception(
                "open attempts of renewal %s not cancelled; the next run tries again", renewal_id
            )
            continue
        swept += 1
    return swept
