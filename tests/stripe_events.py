"""Stripe webhook deliveries as Stripe makes them: a JSON event signed with the endpoint's
secret in a ``Stripe-Signature`` header (``t=<unix time>,v1=<HMAC-SHA256 of "t.body">``)."""

import hashlib
import hmac
import itertools
import json
import time

from django.conf import settings

_ids = itertools.count(1)


def event(type_: str, obj: dict, *, created: int | None = None, livemode: bool = False, **extra) -> dict:
    number = next(_ids)
    return {
        "id": f"evt_test_{number:010d}",
        "object": "event",
        "api_version": "2026-10-28.endive",
        "created": created if created is not None else int(time.time()),
        "livemode": livemode,
        "type": type_,
        "data": {"object": obj},
        **extra,
    }


def sign(body: bytes, *, secret: str | None = None, timestamp: int | None = None) -> str:
    timestamp = int(time.time()) if timestamp is None else timestamp
    secret = settings.STRIPE_WEBHOOK_SECRET if secret is None else secret
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def delivery(payload: dict, **signing) -> tuple[bytes, str]:
    body = json.dumps(payload).encode()
    return body, sign(body, **signing)


def post(client, payload: dict, **signing):
    body, header = delivery(payload, **signing)
    return client.post(
        "/payments/stripe/webhook/", data=body, content_type="application/json", HTTP_STRIPE_SIGNATURE=header
    )


def intent(payment, *, status: str, amount: int | None = None, currency: str | None = None, **fields) -> dict:
    """A PaymentIntent of ``payment`` as Stripe would send it."""
    from reseller.money import to_stripe_minor_units

    return {
        "id": payment.stripe_payment_intent_id,
        "object": "payment_intent",
        "amount": to_stripe_minor_units(payment.amount, payment.currency) if amount is None else amount,
        "currency": (currency or payment.currency).lower(),
        "status": status,
        "metadata": {"payment_id": str(payment.pk), "renewal_id": str(payment.renewal_id or "")},
        "last_payment_error": None,
        "latest_charge": None,
        **fields,
    }
