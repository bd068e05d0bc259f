"""A customer's new contact e-mail or phone number takes effect only once the code sent to
it comes back: a typo must not send their receipts and reminders to a stranger.

Codes are six digits, valid 15 minutes, five tries; only a keyed hash is stored. A customer
asks for at most five codes an hour, so the form cannot be used to spam a stranger."""

import hashlib
import hmac
import secrets
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.audit import audit_record
from accounts.models import ContactVerification, Customer
from reseller.actors import Actor
from reseller.errors import DomainError
from reseller.validators import normalize_msisdn, validate_e164

CODE_VALID = timedelta(minutes=15)
MAX_ATTEMPTS = 5
MAX_CODES_PER_HOUR = 5


def contact_change_start(*, customer: Customer, field: str, value: str, actor: Actor) -> ContactVerification:
    """Send a code to the new address or number; nothing changes on the customer yet."""
    value = _normalized(field, value)
    if value == getattr(customer, field):
        raise DomainError(_("This is already your current one."), code="unchanged")
    now = timezone.now()
    code = f"{secrets.randbelow(10**6):06d}"
    with transaction.atomic():
        Customer.objects.select_for_update(no_key=True).get(pk=customer.pk)
        recent = ContactVerification.objects.filter(
            customer=customer, created_at__gt=now - timedelta(hours=1)
        )
        if recent.count() >= MAX_CODES_PER_HOUR:
            raise DomainError(_("Too many codes asked for: try again in an hour."), code="rate_limited")
        # A new code replaces any earlier one still waiting for this field.
        ContactVerification.objects.filter(customer=customer, field=field, confirmed_at__isnull=True).update(
            expires_at=now
        )
        verification = ContactVerification.objects.create(
            customer=customer, field=field, new_value=value, code_hash="", expires_at=now + CODE_VALID
        )
        ContactVerification.objects.filter(pk=verification.pk).update(code_hash=_hash(verification.pk, code))
        from accounts.customer_mail import contact_code_send

        # The code exists only in this process: sent after commit, never through the broker.
        transaction.on_commit(lambda: contact_code_send(verification=verification, code=code))
    return verification


def contact_change_confirm(*, customer: Customer, field: str, code: str, actor: Actor) -> Customer:
    """Apply the new e-mail or phone number if ``code`` is the one sent to it."""
    now = timezone.now()
    with transaction.atomic():
        verification = (
            ContactVerification.objects.select_for_update()
            .filter(customer=customer, field=field, confirmed_at__isnull=True, expires_at__gt=now)
            .order_by("-pk")
            .first()
        )
        if verification is None or verification.attempts >= MAX_ATTEMPTS:
            raise DomainError(_("This code has expired: ask for a new one."), code="expired")
        if not hmac.compare_digest(verification.code_hash, _hash(verification.pk, (code or "").strip())):
            # Counted even though the request fails: the count must survive the error.
            ContactVerification.objects.filter(pk=verification.pk).update(attempts=verification.attempts + 1)
            failed = True
        else:
            failed = False
            locked = Customer.objects.select_for_update(no_key=True).get(pk=customer.pk)
            before = getattr(locked, field)
            Customer.objects.filter(pk=locked.pk).update(**{field: verification.new_value})
            ContactVerification.objects.filter(pk=verification.pk).update(confirmed_at=now)
            audit_record(
                actor=actor,
                action="customer.contact_changed",
                obj=locked,
                changes={field: [before, verification.new_value]},
                reason="confirmed with the code sent to the new one",
            )
    if failed:
        raise DomainError(_("This code is not the one we sent."), code="wrong_code")
    customer.refresh_from_db()
    return customer


def _normalized(field: str, value: str) -> str:
    value = (value or "").strip()
    try:
        if field == ContactVerification.Field.EMAIL:
            validate_email(value)
            return value.lower()
        if field == ContactVerification.Field.PHONE:
            value = normalize_msisdn(value)
            validate_e164(value)
            return value
    except ValidationError as error:
        raise DomainError(" ".join(error.messages), code="invalid") from error
    raise DomainError(_("Choose e-mail or phone."), code="field")


def _hash(verification_id: int, code: str) -> str:
    message = f"contact-verification:{verification_id}:{code}".encode()
    return hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()
