"""A line's history as its owner reads it: renewals, payments, refunds, usage (one entry a
day) and corrections, newest first. A few indexed queries, whatever the history's length, and
at most ``limit`` entries of each kind."""

from dataclasses import dataclass
from datetime import datetime, time
from typing import Any

from django.db.models import Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from accounts.models import Correction, SimLine
from plans.models import Renewal, Usage


@dataclass(frozen=True)
class HistoryItem:
    at: datetime
    kind: str  # renewal, payment, refund, usage, correction
    obj: Any


def line_history(line: SimLine, *, limit: int = 100) -> list[HistoryItem]:
    from payments.models import Payment, Refund  # payments builds on plans

    items = [
        HistoryItem(r.created_at, "renewal", r)
        for r in Renewal.objects.filter(line=line).select_related("plan").order_by("-created_at")[:limit]
    ]
    items += [
        HistoryItem(p.paid_at or p.created_at, "payment", p)
        for p in Payment.objects.filter(renewal__line=line)
        .exclude(status__in=[Payment.Status.PENDING, Payment.Status.CANCELLED])
        .order_by("-created_at")[:limit]
    ]
    items += [
        HistoryItem(r.created_at, "refund", r)
        for r in Refund.objects.filter(payment__renewal__line=line)
        .select_related("payment")
        .order_by("-created_at")[:limit]
    ]
    items += [
        HistoryItem(c.decided_at or c.created_at, "correction", c)
        for c in Correction.objects.filter(line=line).order_by("-created_at")[:limit]
    ]
    daily = (
        Usage.objects.filter(line=line)
        .annotate(day=TruncDate("recorded_at"))
        .values("day")
        .annotate(data_bytes=Sum("data_bytes"), voice_minutes=Sum("voice_minutes"), sms=Sum("sms"))
        .order_by("-day")[:limit]
    )
    for row in daily:
        # Days are cut in the active time zone (the customer's, on their pages).
        at = timezone.make_aware(datetime.combine(row["day"], time.min))
        items.append(HistoryItem(at, "usage", row))
    return sorted(items, key=lambda item: item.at, reverse=True)
