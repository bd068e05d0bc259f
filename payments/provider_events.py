"""Stripe's webhook inbox: store each event once, answer fast, process after commit.

Receiving only verifies and stores: the event id is unique, so a redelivered event is stored
once and processed once. Processing runs in a task after the commit, and again from the sweep
if that task is lost; every handler is idempotent and tolerates any order (an event older than
the state we hold makes us fetch the object again instead of trusting the event).
"""

import logging
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from payments import stripe_gateway
from payments.checkout import StaleState, payment_apply_intent, payment_for_intent, payment_refresh
from payments.models import ProviderEvent
from reseller.actors import Actor

logger = logging.getLogger(__name__)

ACTOR = Actor.system("stripe webhook")

PAYMENT_INTENT_EVENTS = {
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
    "payment_intent.processing",
    "payment_intent.requires_action",
    "payment_intent.canceled",
}
REFUND_EVENTS = {
    "charge.refunded",
    "refund.created",
    "refund.updated",
    "refund.failed",
    "charge.refund.updated",
}
DISPUTE_EVENTS = {"charge.dispute.created", "charge.dispute.updated", "charge.dispute.closed"}
SETUP_EVENTS = {"setup_intent.succeeded"}
HANDLED = PAYMENT_INTENT_EVENTS | REFUND_EVENTS | DISPUTE_EVENTS | SETUP_EVENTS
MAX_ATTEMPTS = 10


def event_receive(payload: bytes, signature_header: str) -> tuple[ProviderEvent, bool]:
    """Verify and store a webhook; returns the stored event and whether it is new. Raises
    ``SignatureError`` for anything not signed by Stripe for us just now."""
    event = stripe_gateway.event_verify(payload, signature_header)
    ignored = _ignored_because(event)
    try:
        with transaction.atomic():
            stored = ProviderEvent.objects.create(
                provider="stripe",
                event_id=event["id"],
                type=event["type"],
                livemode=bool(event.get("livemode")),
                payload=event,
                processed_at=timezone.now() if ignored else None,
                error=ignored,
            )
    except IntegrityError:  # delivered again (or twice at once): already stored
        return ProviderEvent.objects.get(provider="stripe", event_id=event["id"]), False
    if ignored:
        logger.info("Stripe event %s (%s) %s", event["id"], event["type"], ignored)
    else:
        from payments.tasks import process_provider_event

        transaction.on_commit(lambda: process_provider_event.delay(stored.pk), robust=True)
    return stored, True


def _ignored_because(event) -> str:
    mode = stripe_gateway.mode()
    if bool(event.get("livemode")) != mode.livemode:
        return (
            "ignored: test-mode event on live keys" if mode.livemode else "ignored: live event on test keys"
        )
    account = event.get("account")
    if account and mode.account_id and account != mode.account_id:
        return f"ignored: event of another account ({account})"
    if event.get("type") not in HANDLED:
        return "ignored: event type we do not handle"
    return ""


def event_process(event_pk: int) -> str:
    """Process one stored event; safe to call any number of times, at once or in any order.
    No transaction is held around it: what it learns from Stripe is fetched first, then each
    object is applied in a short transaction of its own, under its row locks, so two workers
    on the same event (a redelivery, the sweep) apply it once between them."""
    event = ProviderEvent.objects.filter(pk=event_pk).first()
    if event is None:
        return "missing"
    if event.processed_at is not None:
        return "done"
    try:
        outcome = _dispatch(event)
    except Exception as exc:
        ProviderEvent.objects.filter(pk=event_pk).update(
            attempts=F("attempts") + 1, error=f"{type(exc).__name__}: {exc}"[:2000]
        )
        raise
    ProviderEvent.objects.filter(pk=event.pk, processed_at__isnull=True).update(
        processed_at=timezone.now(), error="", attempts=F("attempts") + 1
    )
    return outcome


def _dispatch(event: ProviderEvent) -> str:
    obj = event.payload["data"]["object"]
    observed_at = datetime.fromtimestamp(event.payload.get("created", 0), tz=UTC)
    if event.type in PAYMENT_INTENT_EVENTS:
        if obj.get("status") == "succeeded" and isinstance(obj.get("latest_charge"), str):
            # The event names the charge only by id: fetch the intent with its charge, for
            # the method really used (Apple Pay…) and the time the money was taken.
            payment_refresh_by_intent(obj)
            return "applied"
        try:
            payment_apply_intent(obj, observed_at=observed_at, actor=ACTOR)
        except StaleState:
            payment_refresh_by_intent(obj)
        return "applied"
    if event.type in REFUND_EVENTS:
        from payments.refunds import refunds_sync_from_provider

        intent_id = obj.get("payment_intent")
        if intent_id:
            refunds_sync_from_provider(intent_id=intent_id, actor=ACTOR)
        return "applied"
    if event.type in DISPUTE_EVENTS:
        from payments.disputes import dispute_apply

        dispute_apply(obj, actor=ACTOR)
        return "applied"
    if event.type in SETUP_EVENTS:
        from payments.saved_methods import saved_method_from_setup_intent

        saved_method_from_setup_intent(obj["id"], actor=ACTOR)
        return "applied"
    return "ignored"


def payment_refresh_by_intent(intent: dict) -> None:
    """Fetch the event's intent again instead of trusting the event's copy."""
    payment = payment_for_intent(intent)
    if payment is not None:
        payment_refresh(payment, actor=ACTOR)


def events_unprocessed(*, now: datetime | None = None):
    """Events whose processing task was lost or failed, oldest first."""
    now = now or timezone.now()
    cutoff = now - timedelta(minutes=settings.PROVIDER_EVENT_RETRY_AFTER_MINUTES)
    return ProviderEvent.objects.filter(
        processed_at__isnull=True, received_at__lte=cutoff, attempts__lt=MAX_ATTEMPTS
    ).order_by("received_at")


def events_stuck(*, now: datetime | None = None):
    """Events still not processed an hour after they arrived: Billing should look."""
    now = now or timezone.now()
    return ProviderEvent.objects.filter(processed_at__isnull=True, received_at__lte=now - timedelta(hours=1))


def events_sweep(*, now: datetime | None = None, limit: int = 500) -> int:
    """Process what the tasks left behind. An event that keeps failing stops after
    MAX_ATTEMPTS and stays listed for staff with its error."""
    done = 0
    for pk in list(events_unprocessed(now=now).values_list("pk", flat=True)[:limit]):
        try:
            event_process(pk)
            done += 1
        except Exception:
            logger.exception("provider event %s failed again", pk)
    return done
