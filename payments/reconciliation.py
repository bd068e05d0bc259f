"""Nightly reconciliation with Stripe: list the PaymentIntents and refunds created since the
last run, apply each through the same services as the webhooks (so a lost webhook's work gets
done, once), retry our refunds whose outcome was unknown, and report what still differs."""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from payments import stripe_gateway
from payments.checkout import _our_status, payment_apply_intent, payment_for_intent
from payments.models import Payment, ReconciliationRun, Refund
from payments.refunds import RefundNotYetVisible, epoch, refund_apply_provider, refund_submit
from reseller.actors import Actor

logger = logging.getLogger(__name__)

ACTOR = Actor.system("reconciliation")
#: Each run looks this far behind the last one's start, so nothing falls between two runs.
OVERLAP = timedelta(hours=1)
FIRST_RUN_LOOKBACK = timedelta(days=3)


def reconcile(*, now: datetime | None = None) -> ReconciliationRun:
    now = now or timezone.now()
    last = (
        ReconciliationRun.objects.filter(finished_at__isnull=False, error="").order_by("-started_at").first()
    )
    since = (last.started_at - OVERLAP) if last else now - FIRST_RUN_LOOKBACK
    run = ReconciliationRun.objects.create(started_at=now, since=since)
    try:
        _intents(run, since)
        _refunds(run, since)
        _retry_unknown_refunds(run, now)
    except stripe_gateway.ProviderError as exc:
        run.error = f"Stripe: {exc.provider_message or exc.message}"
        logger.warning("reconciliation stopped: %s", run.error)
    run.finished_at = timezone.now()
    run.save()
    return run


def _intents(run: ReconciliationRun, since: datetime) -> None:
    for intent in stripe_gateway.payment_intents_since(epoch(since)):
        run.intents_checked += 1
        payment = payment_for_intent(intent)
        if payment is None:
            if (intent.get("metadata") or {}).get("payment_id"):
                run.differences.append(
                    _note("unknown_payment", intent["id"], "Stripe has a payment we do not.")
                )
            continue
        before = payment.status
        payment = payment_apply_intent(intent, observed_at=timezone.now(), actor=ACTOR) or payment
        payment.refresh_from_db()
        if payment.status != before:
            run.repaired.append(_note("payment", intent["id"], f"{before} → {payment.status}", payment))
        expected = _our_status(intent)
        if payment.review_reason:
            run.differences.append(_note("payment_review", intent["id"], payment.review_reason, payment))
        elif expected and expected != payment.status:
            detail = f"Stripe: {intent.get('status')}, ours: {payment.status}"
            run.differences.append(_note("payment_status", intent["id"], detail, payment))


def _refunds(run: ReconciliationRun, since: datetime) -> None:
    for provider_refund in stripe_gateway.refunds_since(epoch(since)):
        run.refunds_checked += 1
        ours = Refund.objects.filter(stripe_refund_id=provider_refund["id"]).first()
        before = ours.status if ours else None
        try:
            refund = refund_apply_provider(provider_refund, actor=ACTOR)
        except RefundNotYetVisible:
            continue  # being written right now: the next run sees it
        if refund is None:
            continue
        refund.refresh_from_db()
        if refund.status != before:
            detail = f"{before or 'missing'} → {refund.status}"
            run.repaired.append(_note("refund", provider_refund["id"], detail, refund.payment))


def _retry_unknown_refunds(run: ReconciliationRun, now: datetime) -> None:
    """Refunds we wrote but never heard back about (Stripe unreachable at the time): asked
    again with the same idempotency key, which cannot make a second refund."""
    stale = now - timedelta(minutes=settings.PROVIDER_EVENT_RETRY_AFTER_MINUTES)
    pending = Refund.objects.filter(status=Refund.Status.PENDING, stripe_refund_id="", created_at__lte=stale)
    for refund in pending.select_related("payment").exclude(payment__stripe_payment_intent_id=""):
        try:
            refund_submit(refund, actor=ACTOR)
        except Exception as exc:  # one refund's trouble must not stop the others
            run.differences.append(_note("refund_retry", f"refund {refund.pk}", str(exc), refund.payment))
            continue
        refund.refresh_from_db()
        if refund.stripe_refund_id:
            run.repaired.append(
                _note("refund", refund.stripe_refund_id, "sent to Stripe again", refund.payment)
            )


def _note(kind: str, stripe_id: str, detail: str, payment: Payment | None = None) -> dict:
    return {
        "kind": kind,
        "stripe_id": stripe_id,
        "payment": payment.pk if payment else None,
        "receipt": payment.receipt_number if payment else None,
        "detail": detail,
    }
