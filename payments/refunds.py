"""Refunds: one service for the admin and the partner API.

A refund is written ``pending`` under the payment's row lock, where the sum of pending and
succeeded refunds is checked against the payment, so two agents refunding at once cannot
over-refund whatever the provider would accept. The row is committed before Stripe is asked,
with our refund id as the idempotency key and in its metadata, so Stripe's answer, its webhook
and the nightly reconciliation all find the same row, in any order. What happens to the
entitlement (keep, end the period, deduct data) is carried out once, when the refund succeeds.
"""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from accounts.audit import audit_record
from accounts.corrections import balance_adjustment_apply
from accounts.models import Correction, SimLine
from payments import stripe_gateway
from payments.locks import payment_lock
from payments.models import MANUAL_METHODS, Payment, PaymentMethod, Refund
from payments.wallet import wallet_lock_for_refund, wallet_refund_credit
from plans.balances import line_balance
from plans.models import Renewal
from reseller.actors import Actor
from reseller.errors import DomainError
from reseller.money import from_stripe_minor_units, has_valid_precision, quantize, to_stripe_minor_units
from reseller.states import can_transition, transition
from webhooks.events import webhook_refund_finished

logger = logging.getLogger(__name__)

#: How long after the payment each method can still be refunded through Stripe (days).
#: Cards have no fixed limit at Stripe; the wallets do.
REFUND_WINDOW_DAYS = {
    PaymentMethod.WECHAT_PAY: 180,
    PaymentMethod.ALIPAY: 90,
}
_STRIPE_REASONS = {
    Refund.Reason.DUPLICATE: "duplicate",
    Refund.Reason.FRAUD: "fraudulent",
    Refund.Reason.CUSTOMER_REQUEST: "requested_by_customer",
}
_COUNTED = (Refund.Status.PENDING, Refund.Status.SUCCEEDED)


class RefundNotYetVisible(Exception):
    """Stripe reports a refund of ours whose row is not committed yet: try again later."""


def refunded_or_pending(payment: Payment) -> Decimal:
    total = payment.refunds.filter(status__in=_COUNTED).aggregate(total=Sum("amount"))["total"]
    return total or Decimal(0)


def refundable(payment: Payment) -> Decimal:
    return max(payment.amount - refunded_or_pending(payment), Decimal(0))


@dataclass(frozen=True)
class Suggestion:
    amount: Decimal
    why: str


def refund_suggested(payment: Payment, *, now: datetime | None = None) -> Suggestion:
    """What Billing staff are offered: everything within REFUND_FULL_WITHIN_HOURS of the
    purchase or before the period starts; otherwise the paid amount times the smaller of the
    unused share of days and of data, rounded down in the currency; never more than what can
    still be refunded."""
    now = now or timezone.now()
    left = refundable(payment)
    renewal = payment.renewal
    if payment.paid_at and now - payment.paid_at <= timedelta(hours=settings.REFUND_FULL_WITHIN_HOURS):
        return Suggestion(
            left,
            _("Paid less than %(hours)s hours ago: in full.") % {"hours": settings.REFUND_FULL_WITHIN_HOURS},
        )
    if renewal is None or renewal.period_start is None or renewal.period_start >= now:
        return Suggestion(left, _("The period has not started: in full."))
    total = renewal.period_end - renewal.period_start
    unused_days = max(renewal.period_end - now, timedelta(0)) / total if total else Decimal(0)
    share = Decimal(str(round(unused_days, 6)))
    why = _("Unused share of the period: %(percent)s%%.")
    if renewal.data_mb:
        balance = line_balance(renewal.line_id, at=now)
        if renewal.pk in balance.renewal_ids and balance.data_remaining_bytes is not None:
            allowance = balance.data_remaining_bytes + balance.data_used_bytes
            data_share = (
                Decimal(balance.data_remaining_bytes) / Decimal(allowance) if allowance else Decimal(0)
            )
            if data_share < share:
                share, why = data_share, _("Unused share of the data: %(percent)s%%.")
    amount = quantize(payment.amount * share, payment.currency, rounding=ROUND_DOWN)
    percent = (share * 100).quantize(Decimal("1"), rounding=ROUND_DOWN)
    return Suggestion(min(amount, left), why % {"percent": percent})


def refund_request(
    *,
    payment: Payment,
    amount: Decimal,
    reason: str,
    entitlement: str,
    actor: Actor,
    idempotency_key: str,
    comment: str = "",
    manual_reference: str = "",
) -> Refund:
    """Refund ``amount`` of a succeeded payment. Stripe payments are refunded through Stripe;
    cash and bank transfers are refunded by hand and recorded here (``manual_reference`` says
    how). The same idempotency key returns the same refund; anything that breaks a rule is
    refused with a message and changes nothing."""
    existing = Refund.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        return _same_request(existing, payment, amount)
    _check_request(payment, amount, reason, entitlement, manual_reference)
    try:
        with transaction.atomic():
            refund = _write(
                payment, amount, reason, entitlement, actor, idempotency_key, comment, manual_reference
            )
    except IntegrityError:  # the same key, sent twice at once
        return _same_request(Refund.objects.get(idempotency_key=idempotency_key), payment, amount)
    refund.refresh_from_db()
    return refund


def _same_request(existing: Refund, payment: Payment, amount: Decimal) -> Refund:
    if existing.payment_id != payment.pk or existing.amount != amount:
        raise DomainError(
            _("This idempotency key was already used for another refund."), code="idempotency_conflict"
        )
    return existing


def _check_request(payment, amount, reason, entitlement, manual_reference) -> None:
    if not isinstance(amount, Decimal) or not amount.is_finite() or amount <= 0:
        raise DomainError(_("Enter an amount greater than zero."), code="amount")
    if not has_valid_precision(amount, payment.currency):
        raise DomainError(
            _("%(currency)s amounts cannot have that many decimals.") % {"currency": payment.currency},
            code="amount",
        )
    if reason not in Refund.Reason.values:
        raise DomainError(_("Choose a reason for the refund."), code="reason")
    if entitlement not in Refund.Entitlement.values:
        raise DomainError(_("Choose what happens to the line's plan."), code="entitlement")
    if payment.method not in (*MANUAL_METHODS, PaymentMethod.PARTNER_WALLET):
        try:
            to_stripe_minor_units(amount, payment.currency)
        except ValueError as exc:  # e.g. Stripe takes 3-decimal currencies to the ten only
            raise DomainError(
                _("Stripe cannot refund %(amount)s %(currency)s exactly; round the amount.")
                % {"amount": amount, "currency": payment.currency},
                code="amount",
            ) from exc
    if payment.method in MANUAL_METHODS and not manual_reference.strip():
        raise DomainError(
            _("Say how the money was paid back (cash, transfer reference)."), code="manual_reference"
        )


def _write(payment, amount, reason, entitlement, actor, idempotency_key, comment, manual_reference) -> Refund:
    # A wallet payment's wallet is locked first (the lock order of payments.wallet).
    wallet = wallet_lock_for_refund(payment)
    locked = payment_lock(payment.pk)
    if locked.status != Payment.Status.SUCCEEDED:
        raise DomainError(_("Only a completed payment can be refunded."), code="not_paid")
    window = REFUND_WINDOW_DAYS.get(locked.method)
    if window and locked.paid_at and timezone.now() - locked.paid_at > timedelta(days=window):
        raise DomainError(
            _("%(method)s payments can only be refunded within %(days)s days; refund this one another way.")
            % {"method": locked.get_method_display(), "days": window},
            code="refund_window",
        )
    if entitlement != Refund.Entitlement.KEEP and (
        locked.renewal is None or locked.renewal.status not in Renewal.GRANTED_STATUSES
    ):
        raise DomainError(
            _("This payment granted no period that is still running: choose “Keep the period”."),
            code="entitlement",
        )
    left = refundable(locked)
    if amount > left:
        raise DomainError(
            _("At most %(amount)s %(currency)s can still be refunded on this payment.")
            % {"amount": quantize(left, locked.currency), "currency": locked.currency},
            code="over_refund",
        )
    # Cash, transfers and wallet payments are refunded at once, without Stripe.
    manual = locked.method in MANUAL_METHODS or wallet is not None
    now = timezone.now()
    refund = Refund.objects.create(
        payment=locked,
        amount=quantize(amount, locked.currency),
        currency=locked.currency,
        reason=reason,
        comment=comment,
        entitlement=entitlement,
        idempotency_key=idempotency_key,
        requested_by=actor.user if getattr(actor.user, "pk", None) else None,
        manual_reference=manual_reference.strip() if manual else "",
        status=Refund.Status.SUCCEEDED if manual else Refund.Status.PENDING,
        completed_at=now if manual else None,
    )
    audit_record(
        actor=actor,
        action="refund.requested",
        obj=refund,
        changes={
            "amount": str(refund.amount),
            "currency": refund.currency,
            "payment": locked.receipt_number,
            "entitlement": entitlement,
            "status": refund.status,
        },
        reason=f"{reason}: {comment}".strip(": "),
    )
    if manual:
        _apply_entitlement(refund, actor=actor)
        wallet_refund_credit(refund=refund, actor=actor)
        webhook_refund_finished(refund)
    else:
        # Stripe is asked once our row is committed (see the module docstring); its refusal
        # reaches the caller as a DomainError, after the commit.
        transaction.on_commit(lambda: refund_submit(refund, actor=actor))
    return refund


def refund_submit(refund: Refund, *, actor: Actor) -> Refund:
    """Ask Stripe for a pending refund (again, with the same idempotency key, when the last
    try's outcome is unknown) and apply the answer."""
    payment = refund.payment
    try:
        provider_refund = stripe_gateway.refund_create(
            {
                "payment_intent": payment.stripe_payment_intent_id,
                "amount": to_stripe_minor_units(refund.amount, refund.currency),
                "metadata": {"refund_id": str(refund.pk), "payment_id": str(payment.pk)},
                **({"reason": _STRIPE_REASONS[refund.reason]} if refund.reason in _STRIPE_REASONS else {}),
            },
            idempotency_key=stripe_gateway.key_for(refund, "create"),
        )
    except stripe_gateway.ProviderError as exc:
        if exc.retryable:
            logger.warning("refund %s: outcome unknown, left pending for a retry: %s", refund.pk, exc)
            return refund
        with transaction.atomic():
            locked = Refund.objects.select_for_update(no_key=True).get(pk=refund.pk)
            if locked.status == Refund.Status.PENDING and not locked.stripe_refund_id:
                transition(
                    locked,
                    Refund.Status.FAILED,
                    completed_at=timezone.now(),
                    failure_reason=exc.provider_message or str(exc.message),
                )
                audit_record(
                    actor=actor,
                    action="refund.failed",
                    obj=locked,
                    reason=f"Stripe refused it: {locked.failure_reason or '?'}",
                )
                webhook_refund_finished(locked)
        raise DomainError(
            _("Stripe refused the refund: %(reason)s") % {"reason": exc.provider_message or exc.message},
            code="provider_refused",
        ) from exc
    refund_apply_provider(provider_refund, actor=actor)
    return refund


_PROVIDER_STATUS = {
    "succeeded": Refund.Status.SUCCEEDED,
    "failed": Refund.Status.FAILED,
    "canceled": Refund.Status.FAILED,
    "pending": Refund.Status.PENDING,
    "requires_action": Refund.Status.PENDING,
}


def refund_apply_provider(provider_refund, *, actor: Actor) -> Refund | None:
    """Bring our refund in line with Stripe's. A refund Stripe made without us (from its
    dashboard) is recorded, and flagged when it takes more than the payment allows."""
    intent_id = provider_refund.get("payment_intent")
    payment = Payment.objects.filter(stripe_payment_intent_id=intent_id).first() if intent_id else None
    if payment is None:
        logger.info("refund %s is for a payment that is not ours; ignored", provider_refund.get("id"))
        return None
    with transaction.atomic():
        payment = payment_lock(payment.pk)  # then the refund: line, renewal, payment, refund
        refund = _our_refund(provider_refund, payment)
        if refund is None:
            refund = _record_external(provider_refund, payment, actor=actor)
        new = _PROVIDER_STATUS.get(provider_refund.get("status"), Refund.Status.PENDING)
        updates = {}
        if not refund.stripe_refund_id:
            updates["stripe_refund_id"] = provider_refund["id"]
        if new == refund.status or not can_transition(Refund, refund.status, new):
            if updates:
                Refund.objects.filter(pk=refund.pk).update(**updates)
            return refund
        old = refund.status
        if new == Refund.Status.FAILED:
            updates["failure_reason"] = str(provider_refund.get("failure_reason") or "")
        transition(refund, new, completed_at=timezone.now(), **updates)
        audit_record(
            actor=actor,
            action=f"refund.{new}",
            obj=refund,
            changes={"status": [old, new]},
            reason=f"Stripe reports {provider_refund['id']} as {provider_refund.get('status')}",
        )
        webhook_refund_finished(refund)
        if new == Refund.Status.SUCCEEDED:
            try:
                with transaction.atomic():
                    _apply_entitlement(refund, actor=actor)
            except DomainError as exc:
                # The money moved: record it; what to do with the line is for Billing to decide.
                _flag(
                    payment,
                    gettext_noop("A refund succeeded but its entitlement choice could not be applied."),
                )
                logger.warning("refund %s: entitlement not applied: %s", refund.pk, exc)
        elif old == Refund.Status.SUCCEEDED:
            # The bank sent the money back after Stripe reported the refund succeeded.
            _flag(
                payment,
                gettext_noop("A refund failed after it had succeeded: refund the customer another way."),
            )
        if refunded_or_pending(payment) > payment.amount:
            _flag(payment, gettext_noop("Stripe refunded more than was paid."))
    return refund


def _flag(payment: Payment, reason: str) -> None:
    Payment.objects.filter(pk=payment.pk).update(review_reason=reason)


def _our_refund(provider_refund, payment: Payment) -> Refund | None:
    found = (
        Refund.objects.select_for_update(no_key=True).filter(stripe_refund_id=provider_refund["id"]).first()
    )
    if found is not None:
        return found
    refund_id = (provider_refund.get("metadata") or {}).get("refund_id")
    if refund_id:
        found = (
            Refund.objects.select_for_update(no_key=True)
            .filter(
                pk=int(refund_id) if str(refund_id).isdigit() else 0, payment=payment, stripe_refund_id=""
            )
            .first()
        )
        if found is None:
            raise RefundNotYetVisible(provider_refund["id"])
    return found


def _record_external(provider_refund, payment: Payment, *, actor: Actor) -> Refund:
    amount = from_stripe_minor_units(int(provider_refund["amount"]), str(provider_refund["currency"]).upper())
    refund = Refund.objects.create(
        payment=payment,
        amount=amount,
        currency=payment.currency,
        reason=Refund.Reason.OTHER,
        comment=gettext_noop("Refunded on Stripe's dashboard."),
        entitlement=Refund.Entitlement.KEEP,
        stripe_refund_id=provider_refund["id"],
        idempotency_key=f"stripe:{provider_refund['id']}",
    )
    audit_record(
        actor=actor,
        action="refund.recorded_from_provider",
        obj=refund,
        changes={"amount": str(amount)},
        reason=f"Stripe reports refund {provider_refund['id']}, made outside the back office",
    )
    return refund


def refunds_sync_from_provider(*, intent_id: str, actor: Actor) -> list[Refund]:
    """Fetch every refund of a PaymentIntent from Stripe and apply each: what a refund or
    charge event triggers, so events can arrive in any order, twice, or not at all."""
    applied = []
    for provider_refund in stripe_gateway.refunds_of_intent(intent_id):
        refund = refund_apply_provider(provider_refund, actor=actor)
        if refund is not None:
            applied.append(refund)
    return applied


# --- Entitlement -------------------------------------------------------------------------------


def _apply_entitlement(refund: Refund, *, actor: Actor) -> None:
    """Carry out the refund's entitlement choice, once. Called with the line, renewal and
    payment rows locked, in the transaction that marks the refund succeeded."""
    if refund.entitlement_applied_at is not None:
        return
    now = timezone.now()
    Refund.objects.filter(pk=refund.pk).update(entitlement_applied_at=now)
    refund.entitlement_applied_at = now
    renewal = refund.payment.renewal
    if renewal is None or refund.entitlement == Refund.Entitlement.KEEP:
        return
    renewal = Renewal.objects.select_for_update(no_key=True).get(pk=renewal.pk)
    if refund.entitlement == Refund.Entitlement.END_PERIOD:
        _end_period(renewal, now=now, actor=actor, refund=refund)
    elif refund.entitlement == Refund.Entitlement.DEDUCT_DATA and renewal.data_mb:
        share = refund.amount / refund.payment.amount
        deduct = int((Decimal(renewal.data_mb) * share).to_integral_value(rounding=ROUND_DOWN))
        if deduct:
            balance_adjustment_apply(
                line=renewal.line,
                data_mb=-deduct,
                reason=Correction.Reason.REFUND,
                comment=f"refund #{refund.pk}",
                actor=actor,
            )


def _end_period(renewal: Renewal, *, now: datetime, actor: Actor, refund: Refund) -> None:
    """Withdraw what is left of the renewal's period; later periods of the line move earlier by
    as much, so they stay back to back and the customer keeps every day they paid for."""
    line = SimLine.objects.select_for_update(no_key=True, of=("self",)).get(pk=renewal.line_id)
    old_status = renewal.status
    if old_status not in Renewal.GRANTED_STATUSES:
        raise DomainError(_("This renewal has no running period to end."), code="entitlement")
    if renewal.period_start is None:  # a first-use period not started: nothing used, none granted
        transition(renewal, Renewal.Status.REFUNDED)
        audit_record(
            actor=actor,
            action="renewal.refunded",
            obj=renewal,
            changes={"status": [old_status, "refunded"]},
            reason=f"refund #{refund.pk}",
        )
        waiting = Renewal.objects.filter(
            line_id=line.pk, status__in=Renewal.GRANTED_STATUSES, period_start__isnull=True
        ).exists()
        if line.expires_at is None and not waiting:
            # The line was held open for this first use only: it ends now (the expiry job
            # then expires it), instead of staying active with no end.
            SimLine.objects.filter(pk=line.pk).update(expires_at=now)
        return
    cut_from = max(renewal.period_start, now)
    removed = max(renewal.period_end - cut_from, timedelta(0))
    later = (
        Renewal.objects.select_for_update(no_key=True)
        .filter(line_id=line.pk, period_start__gte=renewal.period_end, status__in=Renewal.GRANTED_STATUSES)
        .exclude(pk=renewal.pk)
    )
    for other in later:
        Renewal.objects.filter(pk=other.pk).update(
            period_start=other.period_start - removed, period_end=other.period_end - removed
        )
    old_end = renewal.period_end
    if cut_from > renewal.period_start:
        transition(renewal, Renewal.Status.REFUNDED, period_end=cut_from)
    else:  # not started yet: it grants no time at all
        transition(renewal, Renewal.Status.REFUNDED, period_start=None, period_end=None)
    old_expiry = line.expires_at
    if line.expires_at is not None and removed:
        SimLine.objects.filter(pk=line.pk).update(expires_at=line.expires_at - removed)
    audit_record(
        actor=actor,
        action="renewal.refunded",
        obj=renewal,
        changes={
            "status": [old_status, "refunded"],
            "period_end": [old_end, cut_from],
            "line_expires_at": [old_expiry, old_expiry - removed if old_expiry else None],
        },
        reason=f"refund #{refund.pk}",
    )


def epoch(moment: datetime) -> int:
    return int(moment.astimezone(UTC).timestamp())
