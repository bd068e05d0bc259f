"""Expiry: lines whose paid period has ended move to "expired". The status seen by people is
already right before this runs (SimLine.effective_status); this records the transition."""

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from accounts.audit import audit_record
from accounts.models import SimLine
from reseller.actors import Actor
from reseller.errors import ConcurrentUpdate
from reseller.states import transition

SYSTEM = Actor.system("expiry")


def lines_expire(*, now: datetime | None = None, batch_size: int = 500) -> int:
    """Expire every active line whose period ended; safe on two workers at once (each line
    moves once, by compare-and-set). Returns how many this run expired."""
    now = now or timezone.now()
    expired = 0
    while True:
        batch = list(
            SimLine.objects.filter(status=SimLine.Status.ACTIVE, expires_at__lte=now)
            .order_by("expires_at")
            .only("pk", "status", "expires_at", "iccid")[:batch_size]
        )
        if not batch:
            return expired
        for line in batch:
            with transaction.atomic():
                try:
                    # Still ended at commit time: a renewal may have extended it meanwhile.
                    transition(line, SimLine.Status.EXPIRED, expect={"expires_at__lte": now})
                except ConcurrentUpdate:
                    continue
                audit_record(
                    actor=SYSTEM,
                    action="line.expired",
                    obj=line,
                    changes={"expires_at": line.expires_at},
                    reason="the paid period ended",
                )
                expired += 1
