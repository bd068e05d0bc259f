"""Registering lines: a physical SIM the customer holds, or an eSIM profile ordered from the
carrier. The one service behind the admin's add form and ``POST /api/v1/lines/``. A new line
is inactive until a plan is bought for it (a renewal activates it).

Repeats return the same line: a physical SIM is known by its ICCID, an eSIM by the reference
its order carries to the carrier (derived from the caller's idempotency key), for which the
carrier hands back the same profile, hence the same ICCID.

The carrier is called before our transaction opens, so no row lock waits on the network; if
the call fails nothing is written, and a retry with the same key gets the profile the carrier
may have reserved meanwhile, never a second one. (Through the API the whole request runs in
the idempotency record's transaction: see ``api.idempotency``.)"""

import hashlib

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from accounts.audit import audit_record
from accounts.models import Customer, SimLine
from carrier.base import Carrier, CarrierError, get_carrier
from reseller.actors import Actor
from reseller.errors import DomainError
from reseller.validators import validate_e164, validate_iccid


class CarrierUnavailable(DomainError):
    """The carrier did not answer an order: nothing was created; the API answers 503."""

    code = "carrier_unavailable"
    http_status = 503


def line_register(
    *, customer: Customer, iccid: str, msisdn: str | None = None, actor: Actor, reason: str = ""
) -> SimLine:
    """Register a physical SIM for ``customer``: its ICCID (19 or 20 digits, Luhn check
    digit; spaces allowed) and, when known, its number in E.164. Both are unique: one another
    line holds is refused with a ValidationError naming the field, and nothing is written.
    Registering the same SIM for the same customer again returns the existing line."""
    iccid = "".join((iccid or "").split())
    msisdn = "".join((msisdn or "").split()) or None
    errors = {}
    for field, value, validate in (("iccid", iccid, validate_iccid), ("msisdn", msisdn, validate_e164)):
        if value is None:
            continue
        try:
            validate(value)
        except ValidationError as error:
            errors[field] = error.error_list
    if errors:
        raise ValidationError(errors)
    line = SimLine(customer=customer, iccid=iccid, msisdn=msisdn, kind=SimLine.Kind.PHYSICAL)
    return _create(line, actor=actor, action="line.registered", reason=reason)


def esim_issue(
    *,
    customer: Customer,
    idempotency_key: str,
    actor: Actor,
    reason: str = "",
    carrier: Carrier | None = None,
) -> SimLine:
    """Order an eSIM profile from the carrier and register it for ``customer`` (kind eSIM,
    with its activation code). ``idempotency_key`` names the order, unique per caller: the
    same key again returns the same line; used for another customer, it is refused. A carrier
    that does not answer raises ``CarrierUnavailable`` and nothing is written."""
    if not idempotency_key or len(idempotency_key) > 255:
        raise DomainError(_("An idempotency key of 1 to 255 characters is required."), code="idempotency_key")
    # Hashed: the carrier gets a fixed-length reference that tells it nothing of our callers.
    reference = "esim-" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:40]
    try:
        profile = (carrier or get_carrier()).esim_order(reference=reference)
    except CarrierError as error:
        raise CarrierUnavailable(
            _("The network did not answer the eSIM order; nothing was created. Retry with the same key.")
        ) from error
    line = SimLine(
        customer=customer,
        iccid=profile.iccid,
        kind=SimLine.Kind.ESIM,
        activation_code=profile.activation_code,
    )
    return _create(
        line,
        actor=actor,
        action="line.esim_issued",
        reason=reason,
        extra={"carrier_reference": profile.carrier_reference},
    )


def _create(line: SimLine, *, actor: Actor, action: str, reason: str, extra: dict | None = None) -> SimLine:
    existing = _same_line(line)
    if existing is not None:
        return existing
    line.status = SimLine.Status.INACTIVE
    line.full_clean(exclude=["customer"], validate_unique=False)
    try:
        with transaction.atomic():
            line.save()
            audit_record(
                actor=actor,
                action=action,
                obj=line,
                changes={
                    "customer": line.customer_id,
                    "kind": line.kind,
                    "iccid": [None, line.iccid],
                    "msisdn": [None, line.msisdn],
                    **(extra or {}),
                },
                reason=reason.strip() or f"line registered through the {actor.channel} channel",
            )
    except IntegrityError:
        # The same SIM registered at the same moment by a retry, or a number taken meanwhile.
        existing = _same_line(line)
        if existing is not None:
            return existing
        raise ValidationError({"msisdn": [_("This phone number already belongs to another line.")]}) from None
    return line


def _same_line(line: SimLine) -> SimLine | None:
    """The line already registered with this ICCID when it is this very request again (same
    customer, kind and number); a ValidationError when the ICCID or number is someone else's."""
    existing = SimLine.objects.filter(iccid=line.iccid).first()
    if existing is not None:
        same = (existing.customer_id, existing.kind) == (line.customer_id, line.kind) and (
            line.msisdn is None or existing.msisdn == line.msisdn
        )
        if same:
            return existing
        if line.kind == SimLine.Kind.ESIM:
            raise DomainError(
                _("This idempotency key was already used for another eSIM."), code="idempotency_key_reused"
            )
        raise ValidationError({"iccid": [_("This ICCID is already registered.")]})
    if line.msisdn and SimLine.objects.filter(msisdn=line.msisdn).exists():
        raise ValidationError({"msisdn": [_("This phone number already belongs to another line.")]})
    return None
