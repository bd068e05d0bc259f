"""Nightly reconciliation with Stripe: list the PaymentIntents and refunds created since the
last run, and fetch again every payment and refund of ours still open (a payment link lives
for days, a refund can fail weeks later); apply each through the same services as the
webhooks, so a lost webhook's work gets done, once; retry our refunds whose outcome was
unknown; report what still differs. One object's trouble is noted and the run goes on."""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from payments import stripe_gateway
from payments.checkout import StaleState, _our_status, payment_apply_intent, payment_for_intent
from payments.links import MAX_AGE_SECONDS
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
        _open_payments(run, now)
        _refunds(run, since)
        _pending_refunds(run)
        _retry_unknown_refunds(run, now)
    except stripe_gateway.ProviderError as exc:
        run.error = f"Stripe: {exc.provider_message or exc.message}"
        logger.warning("reconciliation stopped: %s", run.error)
    finally:
        run.finished_at = timezone.now()
        run.save()
    return run


def _intents(run: ReconciliationRun, since: datetime) -> None:
    for intent in stripe_gateway.payment_intents_since(epoch(since)):
        run.intents_checked += 1
        _check_intent(run, intent, fetched_at=timezone.now())


def _open_payments(run: ReconciliationRun, now: datetime) -> None:
    """Our payments still waiting whose intents are older than the listing above reaches:
    a customer may pay on a link days after it was made."""
    oldest = now - timedelta(seconds=MAX_AGE_SECONDS) - OVERLAP
    waiting = Payment.objects.filter(
        status__in=Payment.OPEN_STATUSES, created_at__gte=oldest, created_at__lt=run.since
    ).exclude(stripe_payment_intent_id="")
    for payment in waiting.iterator():
        fetched_at = timezone.now()
        intent = stripe_gateway.payment_intent_retrieve(payment.stripe_payment_intent_id)
        run.intents_checked += 1
        _check_intent(run, intent, fetched_at=fetched_at)


def _check_intent(run: ReconciliationRun, intent: dict, *, fetched_at: datetime) -> None:
    payment = payment_for_intent(intent)
    if payment is None:
        if (intent.get("metadata") or {}).get("payment_id"):
            run.differences.append(_note("unknown_payment", intent["id"], "Stripe has a payment we do not."))
        return
    before = payment.status
    try:
        payment_apply_intent(intent, observed_at=fetched_at, actor=ACTOR)
    except StaleState:
        pass  # a webhook brought newer news meanwhile
    except Exception as exc:
        logger.exception("reconciliation: payment %s", payment.pk)
        run.differences.append(_note("error", intent["id"], f"{type(exc).__name__}: {exc}", payment))
        return
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
        _check_refund(run, provider_refund)


def _pending_refunds(run: ReconciliationRun) -> None:
    """Refunds Stripe has but that are still pending with us, however old."""
    pending = Refund.objects.filter(status=Refund.Status.PENDING, created_at__lt=run.since).exclude(
        stripe_refund_id=""
    )
    for refund in pending.iterator():
        run.refunds_checked += 1
        _check_refund(run, stripe_gateway.refund_retrieve(refund.stripe_refund_id))


def _check_refund(run: ReconciliationRun, provider_refund: dict) -> None:
    ours = Refund.objects.filter(stripe_refund_id=provider_refund["id"]).first()
    before = ours.status if ours else None
    try:
        refund = refund_apply_provider(provider_refund, actor=ACTOR)
    except RefundNotYetVisible:
        return  # being written right now: the next run sees it
    except Exception as exc:
        logger.exception("reconciliation: refund %s", provider_refund.get("id"))
        run.differences.append(_note("error", provider_refund["id"], f"{type(exc).__name__}: {exc}"))
        return
    if refund is None:
        return
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
