"""A customer's login meets the customer record staff keep, once the login has proved it owns
the e-mail address (allauth's ``email_confirmed``; never at signup, when anyone could have
typed anybody's address)."""

import logging

from django.db import transaction
from django.utils import translation

from accounts.audit import audit_record
from accounts.customers import customer_create
from accounts.models import Customer, Language
from reseller.actors import Actor

logger = logging.getLogger(__name__)

REASON_LINKED = "e-mail verified at signup"
REASON_AMBIGUOUS = "e-mail verified at signup, but several customers have it: staff choose which one"


@transaction.atomic
def customer_login_link(*, user, email: str, language: str, actor: Actor) -> Customer | None:
    """Give ``user`` (a login whose ``email`` is now verified) its customer record.

    - The one customer without a login whose e-mail is ``email`` (case-insensitive): linked.
    - Several: none is linked. They may be different people behind one family or agency
      address, and linking the wrong one would show a stranger's lines and payments; each
      gets an audit entry, and staff link the right one by hand (Customer's "login" field).
    - None: a new customer is made from the signup (the name given there, ``language``).

    A login that already has a customer, and staff logins, are left alone. Returns the
    login's customer, or None while staff have to choose."""
    if user.is_staff:
        return None
    own = Customer.objects.filter(user=user).first()
    if own is not None:
        return own
    candidates = list(
        Customer.objects.select_for_update(no_key=True)
        .filter(email__iexact=email, user__isnull=True)
        .order_by("pk")
    )
    if len(candidates) == 1:
        customer = candidates[0]
        customer.user = user
        customer.save(update_fields=["user", "updated_at"])
        audit_record(
            actor=actor,
            action="customer.login_linked",
            obj=customer,
            changes={"user": [None, user.pk]},
            reason=REASON_LINKED,
        )
        return customer
    if candidates:
        for customer in candidates:
            audit_record(
                actor=actor,
                action="customer.login_link_pending",
                obj=customer,
                changes={"login": user.pk, "candidates": [c.pk for c in candidates]},
                reason=REASON_AMBIGUOUS,
            )
        logger.warning(
            "login %s verified an e-mail address customers %s share: none linked",
            user.pk,
            [c.pk for c in candidates],
        )
        return None
    return customer_create(
        actor=actor,
        partner=None,
        fields={
            "user": user,
            "full_name": user.get_full_name() or email.split("@")[0],
            "email": email,
            "language": language if language in Language.values else Language.ENGLISH,
        },
    )


def on_email_confirmed(sender, request, email_address, **kwargs) -> None:
    """allauth's ``email_confirmed`` signal."""
    user = email_address.user
    customer_login_link(
        user=user,
        email=email_address.email,
        language=translation.get_language() or Language.ENGLISH,
        actor=Actor.customer(user),
    )
