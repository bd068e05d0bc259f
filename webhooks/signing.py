"""The signature partners verify: ``Reseller-Signature: t=<unix time>,v1=<hex>``, where the hex
is HMAC-SHA256 of ``"<t>.<raw body>"`` keyed with the endpoint's secret (as Stripe signs). The
time inside the signed text lets a partner refuse an old message replayed to it."""

import hashlib
import hmac
import secrets

SIGNATURE_HEADER = "Reseller-Signature"
SECRET_PREFIX = "whsec_"  # noqa: S105 — a prefix, not a secret


def secret_new() -> str:
    return f"{SECRET_PREFIX}{secrets.token_urlsafe(32)}"


def signature_header(*, secret: str, timestamp: int, body: bytes) -> str:
    signed = f"{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"
