"""Managers set up partners' webhook endpoints. The signing secret is made here and shown to
the Manager once (the admin's next page); it is stored encrypted, not hashed, because every
delivery is signed with it."""

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.audit import audit_record
from accounts.models import Partner
from reseller import encryption
from reseller.actors import Actor
from reseller.errors import DomainError
from webhooks.models import EventType, WebhookEndpoint
from webhooks.signing import secret_new

_LOCAL_HOSTS = {"localhost"}


@dataclass(frozen=True)
class EndpointSecret:
    endpoint: WebhookEndpoint
    #: The signing secret: shown to the Manager once.
    secret: str


def endpoint_url_check(url: str) -> str:
    """An https address (http only to this machine, outside production), or a DomainError."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url
    if (
        parts.scheme == "http"
        and parts.hostname
        and settings.WEBHOOK_ALLOW_LOCAL_HTTP
        and _is_local(parts.hostname)
    ):
        return url
    raise DomainError(_("Webhook addresses must start with https://."), code="url")


def _is_local(host: str) -> bool:
    if host in _LOCAL_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _event_types_check(event_types) -> list[str]:
    chosen = sorted(set(event_types))
    if not chosen or not set(chosen) <= set(EventType.values):
        raise DomainError(_("Choose at least one event to send to this address."), code="event_types")
    return chosen


def webhook_endpoint_create(
    *, partner: Partner, url: str, event_types, actor: Actor, description: str = ""
) -> EndpointSecret:
    """Add an endpoint for ``partner`` with a new signing secret, returned once."""
    url = endpoint_url_check(url)
    chosen = _event_types_check(event_types)
    secret = secret_new()
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.create(
            partner=partner,
            url=url,
            description=description.strip(),
            event_types=chosen,
            secret=secret,
            created_by=actor.user if getattr(actor.user, "pk", None) else None,
        )
        audit_record(
            actor=actor,
            action="webhook_endpoint.created",
            obj=endpoint,
            changes={"partner": partner.code, "url": url, "event_types": chosen},
            reason=f"webhook endpoint added for {partner.code}",
        )
    return EndpointSecret(endpoint=endpoint, secret=secret)


def webhook_endpoint_rotate_secret(*, endpoint: WebhookEndpoint, actor: Actor, reason: str) -> EndpointSecret:
    """Give an endpoint a new secret (the old one stops signing at once), returned once."""
    if not reason.strip():
        raise DomainError(_("Say why the secret is replaced."), code="reason")
    secret = secret_new()
    with transaction.atomic():
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
            secret_encrypted=encryption.encrypt(secret), secret_rotated_at=timezone.now()
        )
        endpoint.refresh_from_db()
        audit_record(
            actor=actor, action="webhook_endpoint.secret_rotated", obj=endpoint, reason=reason.strip()
        )
    return EndpointSecret(endpoint=endpoint, secret=secret)


def webhook_secrets_reencrypt() -> tuple[int, int]:
    """Encrypt every endpoint's secret under the current (first) key, after a key rotation.
    Returns (re-encrypted, already current). Compare-and-set per row: a secret rotated by a
    Manager meanwhile is left as the rotation wrote it (already under the current key)."""
    moved = current = 0
    for pk, token in WebhookEndpoint.objects.order_by("pk").values_list("pk", "secret_encrypted").iterator():
        if encryption.is_under_current_key(token):
            current += 1
            continue
        moved += WebhookEndpoint.objects.filter(pk=pk, secret_encrypted=token).update(
            secret_encrypted=encryption.reencrypt(token)
        )
    return moved, current
