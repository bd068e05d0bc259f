"""Chargebacks: Stripe tells us a customer's bank disputes a card payment. We keep each dispute
beside its payment, with the evidence deadline, so Billing staff answer in time (on Stripe)."""

import logging
from datetime import UTC, datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_noop

from accounts.audit import audit_record
from payments.models import Dispute, Payment
from reseller.actors import Actor
from reseller.money import from_stripe_minor_units

logger = logging.getLogger(__name__)

_CLOSED = {"won", "lost", "warning_closed"}


def _moment(unix: int | None) -> datetime | None:
    return datetime.fromtimestamp(unix, tz=UTC) if unix else None


def dispute_apply(provider_dispute, *, actor: Actor) -> Dispute | None:
    """Record or update a dispute from Stripe's object (creation, updates and closing, in any
    order: a closed dispute is never reopened by an older event)."""
    payment = None
    intent_id = provider_dispute.get("payment_intent")
    if intent_id:
        payment = Payment.objects.filter(stripe_payment_intent_id=intent_id).first()
    if payment is None and provider_dispute.get("charge"):
        payment = Payment.objects.filter(stripe_charge_id=provider_dispute["charge"]).first()
    if payment is None:
        logger.info("dispute %s is on a payment that is not ours; ignored", provider_dispute.get("id"))
        return None
    status = provider_dispute.get("status") or "other"
    if status not in Dispute.Status.values:
        status = Dispute.Status.OTHER
    currency = str(provider_dispute.get("currency") or payment.currency).upper()
    evidence = provider_dispute.get("evidence_details") or {}
    with transaction.atomic():
        dispute = (
            Dispute.objects.select_for_update(no_key=True)
            .filter(stripe_dispute_id=provider_dispute["id"])
            .first()
        )
        values = {
            "amount": from_stripe_minor_units(int(provider_dispute.get("amount") or 0), currency)
            or payment.amount,
            "currency": currency,
            "reason": str(provider_dispute.get("reason") or "")[:64],
            "evidence_due_by": _moment(evidence.get("due_by")),
        }
        if dispute is None:
            dispute, created = Dispute.objects.get_or_create(
                stripe_dispute_id=provider_dispute["id"],
                defaults={
                    **values,
                    "payment": payment,
                    "status": status,
                    "opened_at": _moment(provider_dispute.get("created")) or timezone.now(),
                    "closed_at": timezone.now() if status in _CLOSED else None,
                },
            )
            if created:
                audit_record(
                    actor=actor,
                    action="dispute.opened",
                    obj=dispute,
                    changes={"status": status, "amount": str(dispute.amount), "payment": str(payment)},
                    reason=f"Stripe reports dispute {dispute.stripe_dispute_id} ({dispute.reason or '?'})",
                )
                return dispute
            dispute = Dispute.objects.select_for_update(no_key=True).get(pk=dispute.pk)
        if dispute.closed_at is not None:
            return dispute
        old = dispute.status
        for name, value in values.items():
            setattr(dispute, name, value)
        dispute.status = status
        if status in _CLOSED:
            dispute.closed_at = timezone.now()
        dispute.save()
        if old != status:
            audit_record(
                actor=actor,
                action="dispute.updated",
                obj=dispute,
                changes={"status": [old, status]},
                reason=f"Stripe reports dispute {dispute.stripe_dispute_id} as {status}",
            )
        if status == Dispute.Status.LOST:
            # The bank took the money back: like a refund, but nobody chose what the line keeps.
            Payment.objects.filter(pk=dispute.payment_id).update(
                review_reason=gettext_noop("Dispute lost: the bank took the money back.")
            )
    return dispute
