"""Correcting a customer's details through the API: ``accounts.details`` for every caller, with
what a partner may change itself.

- A staff token corrects every detail staff correct in the admin (``details.STAFF_FIELDS``),
  at once, with a reason code and a comment (``details_correct``).
- A partner key corrects at once, with the same reason code and comment, what it could set
  when it created the customer (``PARTNER_DIRECT_FIELDS``: name, contact, address, language,
  currency, time zone). The name on the identity document (``legal_name``) is what the SIM is
  registered under: the partner's change becomes a request the reseller's staff approve or
  reject (``correction_request_create``), as a customer's own would.

Both kinds of change in one call happen together or not at all (the request's transaction)."""

from accounts.details import STAFF_FIELDS, correction_request_create, details_correct
from accounts.models import Correction, Customer
from api.callers import ApiCaller

#: What only a request changes, when a partner asks.
PARTNER_REQUESTED_FIELDS = ("legal_name",)
#: What a partner corrects at once (what it sets when it creates a customer).
PARTNER_DIRECT_FIELDS = tuple(name for name in STAFF_FIELDS if name not in PARTNER_REQUESTED_FIELDS)


def api_customer_correct(
    *, caller: ApiCaller, customer: Customer, changes: dict, reason: str, comment: str
) -> list[Correction]:
    """The corrections made (applied) and asked for (requested); none when nothing changed."""
    requested = {name: changes[name] for name in PARTNER_REQUESTED_FIELDS if name in changes}
    if not caller.is_partner:
        requested = {}
    direct = {name: value for name, value in changes.items() if name not in requested}
    corrections = []
    if direct:
        applied = details_correct(
            customer=customer, changes=direct, reason=reason, comment=comment, actor=caller.actor
        )
        corrections += [applied] if applied else []
    for name, value in requested.items():
        if value.strip() == (getattr(customer, name) or ""):
            continue  # unchanged, as details_correct would see it
        corrections.append(
            correction_request_create(
                customer=customer, field=name, value=value, comment=comment, actor=caller.actor
            )
        )
    return corrections
