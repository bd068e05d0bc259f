"""Issuing, revoking and checking API keys.

A key is ``rsp_<prefix>_<secret>`` (partner) or ``rss_<prefix>_<secret>`` (staff), with 256
bits of randomness in the secret. Only its SHA-256 is stored: a key that random cannot be
guessed from its hash, so a slow password hasher (hundreds of milliseconds per request) would
buy nothing. The prefix is stored in clear to find the row and to name the key in lists and
logs.
"""

import hashlib
import hmac
import ipaddress
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.audit import audit_record
from api.models import ApiKey, PartnerNetwork
from reseller.actors import Actor
from reseller.errors import DomainError

PARTNER_KEY_KIND = "rsp"
STAFF_KEY_KIND = "rss"
#: last_used_at is written at most this often per key: one UPDATE a minute, not one per call.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def _sha256(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedKey:
    key: ApiKey
    #: The full key: shown to the Manager once, never stored.
    raw: str


def api_key_issue(
    *,
    name: str,
    actor: Actor,
    partner=None,
    user=None,
    scopes: set[str] | frozenset[str] = frozenset({"read"}),
    rate_limit_per_minute: int | None = None,
) -> IssuedKey:
    """Issue a key for a partner or a staff user (exactly one of them)."""
    if (partner is None) == (user is None):
        raise DomainError(_("A key belongs either to a partner or to a staff user."), code="key_owner")
    if user is not None and not (user.is_staff and user.is_active):
        raise DomainError(_("Staff tokens are issued to active staff users only."), code="key_owner")
    if not scopes or not set(scopes) <= {"read", "write", "refund"}:
        raise DomainError(_("Give the key at least one scope among read, write and refund."), code="scopes")
    kind = PARTNER_KEY_KIND if partner is not None else STAFF_KEY_KIND
    for _attempt in range(5):  # a clash of 48-bit prefixes is rare; try another one
        prefix = f"{kind}_{secrets.token_hex(6)}"
        raw = f"{prefix}_{secrets.token_urlsafe(32)}"
        try:
            with transaction.atomic():
                key = ApiKey.objects.create(
                    name=name.strip(),
                    partner=partner,
                    user=user,
                    prefix=prefix,
                    secret_sha256=_sha256(raw),
                    scope_read="read" in scopes,
                    scope_write="write" in scopes,
                    scope_refund="refund" in scopes,
                    rate_limit_per_minute=rate_limit_per_minute,
                    created_by=actor.user if getattr(actor.user, "pk", None) else None,
                )
                audit_record(
                    actor=actor,
                    action="api_key.issued",
                    obj=key,
                    changes={
                        "owner": partner.code if partner is not None else user.get_username(),
                        "scopes": sorted(key.scopes),
                    },
                    reason=f"API key issued: {key.name}",
                )
        except IntegrityError:
            continue
        return IssuedKey(key=key, raw=raw)
    raise RuntimeError("could not find a free API key prefix")


def api_key_revoke(*, key: ApiKey, actor: Actor, reason: str) -> ApiKey:
    """Revoke a key at once: its next request is refused. Revoking twice changes nothing."""
    if not reason.strip():
        raise DomainError(_("Say why the key is revoked."), code="reason")
    with transaction.atomic():
        key = ApiKey.objects.select_for_update(no_key=True).get(pk=key.pk)
        if key.revoked_at is not None:
            return key
        key.revoked_at = timezone.now()
        key.revoked_by = actor.user if getattr(actor.user, "pk", None) else None
        key.save(update_fields=["revoked_at", "revoked_by"])
        audit_record(actor=actor, action="api_key.revoked", obj=key, reason=reason.strip())
    return key


class KeyRefused(Exception):
    """Why a presented key is not accepted; ``code`` is the problem's machine code."""

    def __init__(self, code: str, message: str):
        self.code = code
        self.message = message
        super().__init__(message)


def api_key_check(raw_key: str, *, remote_addr: str | None) -> ApiKey:
    """The active key ``raw_key`` names, with its partner or user loaded, or KeyRefused."""
    # The secret may itself contain "_": the prefix is the first two parts.
    kind, _sep, rest = raw_key.partition("_")
    prefix = f"{kind}_{rest.partition('_')[0]}"
    key = (
        ApiKey.objects.select_related("partner", "user")
        # Whether the partner restricts its addresses, read with the key: most list no
        # networks, and their calls then need no second query.
        .annotate(
            partner_has_networks=Exists(PartnerNetwork.objects.filter(partner_id=OuterRef("partner_id")))
        )
        .filter(prefix=prefix)
        .first()
        if kind in (PARTNER_KEY_KIND, STAFF_KEY_KIND)
        else None
    )
    # compare_digest also for an unknown prefix, so both refusals take the same time.
    stored = key.secret_sha256 if key is not None else "0" * 64
    if not hmac.compare_digest(stored, _sha256(raw_key)) or key is None:
        raise KeyRefused("invalid_api_key", _("This API key is not valid."))
    if key.revoked_at is not None:
        raise KeyRefused("api_key_revoked", _("This API key was revoked."))
    if key.partner is not None:
        if key.partner.status != key.partner.Status.ACTIVE:
            raise KeyRefused("partner_inactive", _("This partner account is not active."))
        if key.partner_has_networks and not _address_allowed(key.partner_id, remote_addr):
            raise KeyRefused("ip_not_allowed", _("Calls from this address are not allowed for this partner."))
    elif not (key.user.is_active and key.user.is_staff):
        raise KeyRefused("api_key_revoked", _("This staff token's user can no longer sign in."))
    _touch(key)
    return key


def _address_allowed(partner_id: int, remote_addr: str | None) -> bool:
    networks = list(PartnerNetwork.objects.filter(partner_id=partner_id).values_list("network", flat=True))
    if not networks:
        return True
    try:
        address = ipaddress.ip_address(remote_addr or "")
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(network) for network in networks)


def _touch(key: ApiKey) -> None:
    now = timezone.now()
    if key.last_used_at is not None and now - key.last_used_at < LAST_USED_RESOLUTION:
        return
    # Conditional, so many processes serving one key at once write once between them.
    stale = Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_RESOLUTION)
    ApiKey.objects.filter(stale, pk=key.pk).update(last_used_at=now)
    key.last_used_at = now
