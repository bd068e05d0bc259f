"""The outbox: an event and its deliveries are written in the caller's transaction, so they
exist exactly when the business change they report does; the delivery tasks are enqueued
after commit, and the sweep (webhooks.tasks.sweep_webhook_deliveries) sends whatever a lost
task or a broker outage left behind."""

import uuid
from functools import partial
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Partner
from webhooks.models import EventType, WebhookDelivery, WebhookEndpoint, WebhookEvent


def event_id_new() -> str:
    return f"evt_{uuid.uuid4().hex}"


def webhook_event_emit(
    *, partner: Partner | int, event_type: str, data: dict[str, Any], dedupe_key: str | None = None
) -> WebhookEvent | None:
    """Write one event for ``partner`` and a delivery to each of its active endpoints that
    subscribes to ``event_type``. With a ``dedupe_key`` already used, nothing is written and
    None is returned (news told once, however often the job that finds it runs)."""
    if event_type not in EventType.values:
        raise ValueError(f"unknown webhook event type {event_type!r}")
    partner_id = partner if isinstance(partner, int) else partner.pk
    now = timezone.now()
    try:
        with transaction.atomic():  # a savepoint: a duplicate leaves the caller's work intact
            event = WebhookEvent.objects.create(
                event_id=event_id_new(),
                partner_id=partner_id,
                event_type=event_type,
                data=data,
                dedupe_key=dedupe_key,
                created_at=now,
            )
    except IntegrityError:
        if dedupe_key and WebhookEvent.objects.filter(dedupe_key=dedupe_key).exists():
            return None
        raise
    endpoints = [
        endpoint
        for endpoint in WebhookEndpoint.objects.filter(partner_id=partner_id, is_active=True)
        if endpoint.subscribes_to(event_type)
    ]
    deliveries = WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(event=event, endpoint=endpoint, next_attempt_at=now, created_at=now)
            for endpoint in endpoints
        ]
    )
    for delivery in deliveries:
        transaction.on_commit(partial(delivery_enqueue, delivery.pk), robust=True)
    return event


def delivery_enqueue(delivery_id: int) -> None:
    from webhooks.tasks import deliver_webhook  # tasks import services; the reverse is local

    deliver_webhook.delay(delivery_id)
