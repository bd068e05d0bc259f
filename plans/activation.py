"""Activation of paid periods on the carrier, and the sweep that finds the ones left behind.

A paid renewal is never lost (DESIGN.md §3.2): each try is recorded, a failed try is retried
by its task with backoff, a lost task is found by the sweep after 15 minutes, and one still
not active after 24 hours is in the staff queue (``stuck_renewals``)."""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from accounts.audit import audit_record
from carrier.base import Carrier, CarrierError, get_carrier
from carrier.models import ActivationAttempt
from notifications.services import notify_activations_delayed, notify_renewal_active
from plans.models import Renewal
from reseller.actors import Actor
from reseller.faults import fault_point
from reseller.states import transition

logger = logging.getLogger(__name__)

AWAITING = (Renewal.Status.PAID, Renewal.Status.ACTIVATING)
SYSTEM = Actor.system("activation")


class ActivationFailed(Exception):
    pass


def renewal_activate(*, renewal_id: int, carrier: Carrier | None = None) -> Renewal:
    """Activate the renewal's period on the carrier. Safe to run twice or on two workers at
    once: the carrier call carries our reference (the carrier recognises a repeat), a try
    already running elsewhere is not started again, and only one try moves the renewal."""
    carrier = carrier or get_carrier()
    claimed = _claim(renewal_id)
    if claimed is None:
        return Renewal.objects.get(pk=renewal_id)
    renewal, attempt = claimed
    fault_point("activation.before_carrier")
    try:
        result = carrier.activate(
            iccid=renewal.line.iccid,
            plan_code=renewal.plan.code,
            period_start=renewal.period_start,
            period_end=renewal.period_end,
            reference=f"renewal-{renewal.pk}",
        )
    except Exception as exc:  # close the attempt whatever went wrong
        ActivationAttempt.objects.filter(pk=attempt.pk).update(
            finished_at=timezone.now(), succeeded=False, error=str(exc)[:2000] or type(exc).__name__
        )
        if isinstance(exc, CarrierError):
            raise ActivationFailed(str(exc)) from exc
        raise

    with transaction.atomic():
        renewal = Renewal.objects.select_for_update(no_key=True).get(pk=renewal_id)
        ActivationAttempt.objects.filter(pk=attempt.pk).update(
            finished_at=timezone.now(), succeeded=True, carrier_reference=result.carrier_reference
        )
        if renewal.status == Renewal.Status.ACTIVATING:
            transition(
                renewal,
                Renewal.Status.ACTIVE,
                activated_at=timezone.now(),
                carrier_reference=result.carrier_reference,
            )
            audit_record(
                actor=SYSTEM,
                action="renewal.activated",
                obj=renewal,
                changes={"carrier_reference": result.carrier_reference, "attempts": attempt.number},
                reason="the carrier confirmed the activation",
            )
            notify_renewal_active(renewal)  # sent once this commits
        fault_point("activation.before_commit")
    return renewal


def _claim(renewal_id: int) -> tuple[Renewal, ActivationAttempt] | None:
    now = timezone.now()
    with transaction.atomic():
        renewal = (
            Renewal.objects.select_for_update(no_key=True, of=("self",))
            .select_related("line", "plan")
            .get(pk=renewal_id)
        )
        if renewal.status not in AWAITING:
            return None
        running_since = now - timedelta(seconds=settings.ACTIVATION_ATTEMPT_TIMEOUT_SECONDS)
        if ActivationAttempt.objects.filter(
            renewal=renewal, finished_at__isnull=True, started_at__gt=running_since
        ).exists():
            return None  # another worker is on it right now
        if renewal.status == Renewal.Status.PAID:
            transition(renewal, Renewal.Status.ACTIVATING)
        number = renewal.activation_attempts + 1
        Renewal.objects.filter(pk=renewal.pk).update(activation_attempts=F("activation_attempts") + 1)
        renewal.activation_attempts = number
        attempt = ActivationAttempt.objects.create(renewal=renewal, number=number, started_at=now)
    return renewal, attempt


def awaiting_activation(*, older_than: timedelta, now: datetime | None = None) -> QuerySet[Renewal]:
    now = now or timezone.now()
    return Renewal.objects.filter(status__in=AWAITING, paid_at__lte=now - older_than)


def stuck_renewals(now: datetime | None = None) -> QuerySet[Renewal]:
    """Paid, still not active after the escalation delay: the staff queue."""
    return awaiting_activation(older_than=timedelta(hours=settings.ACTIVATION_ESCALATE_AFTER_HOURS), now=now)


def activation_sweep(*, now: datetime | None = None, limit: int = 1000) -> list[int]:
    """Re-enqueue activation of renewals paid over ACTIVATION_RETRY_AFTER_MINUTES ago and not
    active (their task failed for good, or was lost with a worker or a broker). One try each
    per sweep: the sweep's own rhythm is the backoff, so the carrier is not flooded."""
    from plans.tasks import activate_renewal

    # Least-tried first: renewals the carrier keeps refusing (already in the staff queue) must
    # not starve one whose task was simply lost.
    overdue = awaiting_activation(
        older_than=timedelta(minutes=settings.ACTIVATION_RETRY_AFTER_MINUTES), now=now
    ).order_by("activation_attempts", "paid_at")
    ids = list(overdue.values_list("pk", flat=True)[:limit])
    notify_activations_delayed(ids)  # once per renewal, however many sweeps retry it
    for renewal_id in ids:
        transaction.on_commit(
            lambda renewal_id=renewal_id: activate_renewal.delay(renewal_id, retry=False), robust=True
        )
    if ids:
        logger.info("activation sweep re-enqueued %d renewals", len(ids))
    return ids
