"""Creating a customer record: the one service for every channel that opens one (the partner
API today; staff add customers through the admin's audited form)."""

from django.db import transaction

from accounts.audit import audit_record
from accounts.models import Customer, Partner
from reseller.actors import Actor


def customer_create(*, actor: Actor, partner: Partner | None, fields: dict) -> Customer:
    """Create a customer owned by ``partner`` (None: the reseller's own), validated by the
    model's rules (E.164 phone, ISO country and currency, time zone); audited. A
    ValidationError names each bad field, and nothing is written."""
    customer = Customer(partner=partner, **fields)
    customer.full_clean()
    with transaction.atomic():
        customer.save()
        audit_record(
            actor=actor,
            action="customer.created",
            obj=customer,
            changes={name: [None, value] for name, value in fields.items() if value not in ("", None)}
            | ({"partner": [None, partner.code]} if partner else {}),
            reason=f"customer created through the {actor.channel} channel",
        )
    return customer
