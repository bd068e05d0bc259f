"""The audit trail of the seeded history. ``seed_demo`` writes renewals, payments and refunds
in bulk rather than through the services, so it also writes the audit entries those services
leave (invariant 5: every money and entitlement change is audited), dated when each thing
happened and signed by the system actor ``seed_demo``. ``manage.py consistency_check`` then
passes on a freshly seeded database.

The entries are plain rows ({attname: value}), so the bulk lines can COPY them with the rest
of their batch; the demo set appends those its objects still lack (re-seeding adds none)."""

from collections import defaultdict
from datetime import datetime
from decimal import Decimal

from django.contrib.contenttypes.models import ContentType

from accounts.models import AuditEntry
from payments.models import Payment, Refund
from plans.models import Renewal
from reseller.actors import ActorKind, Channel

SEED_ACTOR_LABEL = "seed_demo"
SEED_REASON = "demo history written by seed_demo"

# What the entries are made of, read in one query per kind.
_PAYMENT_FIELDS = (
    *("pk", "status", "amount", "currency", "method", "paid_at", "created_at"),
    *("receipt_number", "decline_code"),
)
_REFUND_FIELDS = (
    *("pk", "amount", "currency", "status", "entitlement", "created_at", "completed_at"),
    "payment__receipt_number",
)


def _entry(model, pk: int, action: str, *, at: datetime, label: str, changes: dict) -> dict:
    return {
        "occurred_at": at,
        "actor_kind": ActorKind.SYSTEM,
        "actor_label": SEED_ACTOR_LABEL,
        "channel": Channel.SYSTEM,
        "action": action,
        "content_type_id": ContentType.objects.get_for_model(model).pk,
        "object_id": str(pk),
        "object_repr": label[:200],
        "changes": changes,
        "reason": SEED_REASON,
    }


def renewal_paid_entry(
    pk: int, *, plan_code: str, iccid: str, paid_at: datetime, start: datetime | None, end: datetime | None
) -> dict:
    """What ``renewal_mark_paid`` records: the period the payment granted."""
    period = [start.isoformat(), end.isoformat()] if start and end else "at first use"
    label = f"#{pk} {plan_code} → {iccid}"  # as Renewal.__str__, without loading the renewal
    return _entry(Renewal, pk, "renewal.paid", at=paid_at, label=label, changes={"period": period})


def payment_recorded_entry(
    pk: int, *, amount: Decimal, currency: str, method: str, paid_at: datetime, receipt_number: str
) -> dict:
    """A succeeded payment, recorded (not taken through a checkout): ``payment.recorded``, as
    for a manual or wallet payment, which the check accepts for both the payment and its
    success."""
    return _entry(
        Payment,
        pk,
        "payment.recorded",
        at=paid_at,
        label=receipt_number or f"payment #{pk}",
        changes={"amount": [None, str(amount)], "currency": currency, "method": method},
    )


def _payment_started_entry(payment: dict) -> dict:
    """A declined attempt: the checkout was started, and the payment failed."""
    return _entry(
        Payment,
        payment["pk"],
        "payment.started",
        at=payment["created_at"],
        label=f"payment #{payment['pk']}",
        changes={
            "amount": [None, str(payment["amount"])],
            "currency": payment["currency"],
            "method": payment["method"],
            "decline_code": payment["decline_code"],
        },
    )


def _refund_requested_entry(refund: dict) -> dict:
    return _entry(
        Refund,
        refund["pk"],
        "refund.requested",
        at=refund["completed_at"] or refund["created_at"],
        label=f"refund #{refund['pk']} {refund['amount']} {refund['currency']}",
        changes={
            "amount": str(refund["amount"]),
            "currency": refund["currency"],
            "payment": refund["payment__receipt_number"],
            "entitlement": refund["entitlement"],
            "status": refund["status"],
        },
    )


def history_audit(renewals) -> int:
    """Append the audit entries that ``renewals`` (a queryset), their payments and refunds
    still lack; return how many were written."""
    entries = [
        renewal_paid_entry(
            renewal["pk"],
            plan_code=renewal["plan__code"],
            iccid=renewal["line__iccid"],
            paid_at=renewal["paid_at"],
            start=renewal["period_start"],
            end=renewal["period_end"],
        )
        for renewal in renewals.filter(paid_at__isnull=False).values(
            "pk", "plan__code", "line__iccid", "paid_at", "period_start", "period_end"
        )
    ]
    payments = Payment.objects.filter(renewal__in=renewals).values(*_PAYMENT_FIELDS)
    for payment in payments:
        if payment["status"] == Payment.Status.SUCCEEDED:
            entries.append(
                payment_recorded_entry(
                    payment["pk"],
                    amount=payment["amount"],
                    currency=payment["currency"],
                    method=payment["method"],
                    paid_at=payment["paid_at"],
                    receipt_number=payment["receipt_number"],
                )
            )
        else:
            entries.append(_payment_started_entry(payment))
    refunds = Refund.objects.filter(payment__renewal__in=renewals).values(*_REFUND_FIELDS)
    entries += [_refund_requested_entry(refund) for refund in refunds]
    missing = _not_yet_audited(entries)
    AuditEntry.objects.bulk_create([AuditEntry(**entry) for entry in missing])
    return len(missing)


def _not_yet_audited(entries: list[dict]) -> list[dict]:
    """The entries whose object has no entry of that action yet: one query per kind."""
    wanted = defaultdict(list)
    for entry in entries:
        wanted[entry["content_type_id"], entry["action"]].append(entry)
    missing = []
    for (content_type_id, action), group in wanted.items():
        present = set(
            AuditEntry.objects.filter(
                content_type_id=content_type_id,
                action=action,
                object_id__in=[entry["object_id"] for entry in group],
            ).values_list("object_id", flat=True)
        )
        missing += [entry for entry in group if entry["object_id"] not in present]
    return missing
