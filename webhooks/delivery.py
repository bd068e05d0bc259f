"""Sending deliveries: one POST per attempt, signed, with every attempt logged; retried with
exponential backoff and jitter until a 2xx answer or until the retry window closes.

Concurrency: before sending, a worker claims the delivery with a compare-and-set UPDATE that
only matches a pending delivery that is due, and moves ``next_attempt_at`` past the time an
attempt can take. Two tasks for one delivery (a duplicate message, the sweep meeting the
task) therefore send it once; a worker killed mid-send leaves the claim to expire, and the
sweep sends again later (partners dedupe on the ``Webhook-Id`` header)."""

import json
import logging
import random
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.audit import audit_record
from reseller.actors import Actor
from reseller.encryption import SecretUnreadable
from reseller.errors import DomainError
from webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEvent
from webhooks.outbox import delivery_enqueue
from webhooks.signing import SIGNATURE_HEADER, signature_header

logger = logging.getLogger(__name__)

#: Kept of a partner's answer in the delivery log.
RESPONSE_BODY_LIMIT = 2000
#: A claim outlives the slowest attempt by this much before the sweep may send again.
CLAIM_MARGIN = timedelta(seconds=60)
USER_AGENT = "SIM-Reseller-Webhooks/1.0"


def event_body(event: WebhookEvent) -> bytes:
    """The JSON a partner receives: the same bytes on every attempt of every delivery."""
    envelope = {
        "id": event.event_id,
        "type": event.event_type,
        "created": event.created_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "data": event.data,
    }
    return json.dumps(envelope, cls=DjangoJSONEncoder, ensure_ascii=False, separators=(",", ":")).encode()


def retry_delay(attempt: int) -> timedelta:
    """How long after failed attempt number ``attempt`` (1, 2, …) the next one is due, before
    jitter: WEBHOOK_RETRY_MINUTES in turn, then its last value again and again."""
    schedule = settings.WEBHOOK_RETRY_MINUTES
    return timedelta(minutes=schedule[min(attempt, len(schedule)) - 1])


def _jittered(delay: timedelta) -> timedelta:
    # Spread retries so a partner back from an outage is not hit by every delivery at once.
    return delay * (1 + random.uniform(0, settings.WEBHOOK_RETRY_JITTER))  # noqa: S311 — not a secret


@dataclass(frozen=True)
class Answer:
    status_code: int | None
    body: str
    error: str
    duration_ms: int

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer like any other non-2xx: the partner fixes its address."""

    def redirect_request(self, *args, **kwargs):
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def _post(url: str, body: bytes, headers: dict[str, str]) -> Answer:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
    started = time.monotonic()
    try:
        with _opener.open(request, timeout=settings.WEBHOOK_TIMEOUT_SECONDS) as response:
            status, raw = response.status, response.read(RESPONSE_BODY_LIMIT)
        error = ""
    except urllib.error.HTTPError as exc:
        status, raw, error = exc.code, exc.read(RESPONSE_BODY_LIMIT), ""
    except (OSError, ValueError) as exc:  # refused, reset, timeout, DNS, TLS, a bad address
        status, raw, error = None, b"", f"{type(exc).__name__}: {exc}"[:500]
    duration_ms = int((time.monotonic() - started) * 1000)
    return Answer(status, raw.decode("utf-8", "replace"), error, duration_ms)


def webhook_delivery_attempt(*, delivery_id: int) -> str:
    """Send a pending delivery that is due, once, and record the attempt. Returns
    ``"delivered"``, ``"retry"``, ``"failed"`` or ``"skipped"`` (not due, already delivered or
    failed, or claimed by another worker)."""
    now = timezone.now()
    claim_until = now + timedelta(seconds=settings.WEBHOOK_TIMEOUT_SECONDS) + CLAIM_MARGIN
    claimed = WebhookDelivery.objects.filter(
        pk=delivery_id, status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now
    ).update(next_attempt_at=claim_until, attempts=F("attempts") + 1)
    if claimed != 1:
        return "skipped"  # another worker got there first, or nothing is due
    delivery = WebhookDelivery.objects.select_related("event", "endpoint").get(pk=delivery_id)
    endpoint = delivery.endpoint
    if not endpoint.is_active:
        answer = Answer(None, "", _("The endpoint was switched off."), 0)
    else:
        try:
            secret = endpoint.secret
        except SecretUnreadable:
            # Never send unsigned: the attempt is logged as failed and retried on schedule, so
            # restoring the missing key in FIELD_ENCRYPTION_KEYS lets the delivery through.
            logger.error("webhook delivery %s not sent: its secret is unreadable", delivery.pk)
            answer = Answer(None, "", _("The signing secret cannot be decrypted; nothing was sent."), 0)
        else:
            body = event_body(delivery.event)
            headers = {
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
                "Webhook-Id": delivery.event.event_id,
                SIGNATURE_HEADER: signature_header(
                    secret=secret, timestamp=int(timezone.now().timestamp()), body=body
                ),
            }
            answer = _post(endpoint.url, body, headers)
    return _record(delivery, answer, started_at=now, claim_until=claim_until)


def _record(delivery: WebhookDelivery, answer: Answer, *, started_at: datetime, claim_until: datetime) -> str:
    finished = timezone.now()
    with transaction.atomic():
        WebhookAttempt.objects.create(
            delivery=delivery,
            number=delivery.attempts,
            started_at=started_at,
            duration_ms=answer.duration_ms,
            status_code=answer.status_code,
            response_body=answer.body,
            error=answer.error,
            succeeded=answer.succeeded,
        )
        # Only while our claim stands (a resend may have made it due again meanwhile).
        expect = {"next_attempt_at": claim_until}
        if answer.succeeded:
            outcome, status = "delivered", WebhookDelivery.Status.DELIVERED
            updates = {"delivered_at": finished, "next_attempt_at": None}
        elif not delivery.endpoint.is_active or finished >= delivery.created_at + timedelta(
            hours=settings.WEBHOOK_RETRY_FOR_HOURS
        ):
            outcome, status = "failed", WebhookDelivery.Status.FAILED
            updates = {"next_attempt_at": None}
        else:
            outcome, status = "retry", None
            updates = {"next_attempt_at": finished + _jittered(retry_delay(delivery.attempts))}
        updates["last_status_code"] = answer.status_code
        if status is not None:
            updates["status"] = status
        WebhookDelivery.objects.filter(
            pk=delivery.pk, status=WebhookDelivery.Status.PENDING, **expect
        ).update(**updates)
    if outcome != "delivered":
        logger.info(
            "webhook delivery %s attempt %s: %s %s",
            delivery.pk,
            delivery.attempts,
            answer.status_code or answer.error,
            outcome,
        )
    return outcome


def deliveries_due(*, now: datetime | None = None, limit: int = 500) -> list[int]:
    """Pending deliveries whose time has come (their task lost, or a retry due)."""
    now = now or timezone.now()
    return list(
        WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )


def webhook_delivery_resend(*, delivery: WebhookDelivery, actor: Actor, reason: str) -> WebhookDelivery:
    """Send a delivery's event to its endpoint again, now: a pending one is made due at once; a
    delivered or failed one gets a new delivery (its log stays as it was), with a full retry
    window of its own."""
    if not reason.strip():
        raise DomainError(_("Say why the event is sent again."), code="reason")
    now = timezone.now()
    with transaction.atomic():
        delivery = WebhookDelivery.objects.select_for_update(no_key=True).get(pk=delivery.pk)
        if not delivery.endpoint.is_active:
            raise DomainError(
                _("This endpoint is switched off; switch it on to send to it."), code="inactive"
            )
        if delivery.status == WebhookDelivery.Status.PENDING:
            WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=now)
            target = delivery
        else:
            target = WebhookDelivery.objects.create(
                event_id=delivery.event_id,
                endpoint_id=delivery.endpoint_id,
                next_attempt_at=now,
                created_at=now,
                resent_from=delivery,
            )
        audit_record(
            actor=actor,
            action="webhook.resent",
            obj=target,
            changes={
                "event": delivery.event.event_id,
                "from_delivery": delivery.pk,
                "status": delivery.status,
            },
            reason=reason.strip(),
        )
        transaction.on_commit(partial(delivery_enqueue, target.pk), robust=True)
    return target
