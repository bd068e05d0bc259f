"""Payment methods a customer saves for auto-renew, through a Stripe SetupIntent (card details
go straight to Stripe). Only reusable methods are saved: Alipay and WeChat Pay need the customer
present, so auto-renew uses cards (Apple Pay and Google Pay included)."""

from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.audit import audit_record
from accounts.models import Customer
from payments import stripe_gateway
from payments.checkout import stripe_customer_ensure
from payments.models import SavedPaymentMethod
from reseller.actors import Actor
from reseller.errors import DomainError

REUSABLE_TYPES = ("card",)


@dataclass(frozen=True)
class SetupCheckout:
    setup_intent_id: str
    client_secret: str
    publishable_key: str


def saved_method_setup_start(*, customer: Customer, actor: Actor, attempt_key: str) -> SetupCheckout:
    """Open a SetupIntent for saving a card for later, off-session charges. ``attempt_key``
    (e.g. the page's form token) makes a double submit open one SetupIntent, not two."""
    stripe_customer_ensure(customer)
    intent = stripe_gateway.setup_intent_create(
        {
            "customer": customer.stripe_customer_id,
            "usage": "off_session",
            "payment_method_types": list(REUSABLE_TYPES),
            "metadata": {"customer_id": str(customer.pk)},
        },
        idempotency_key=stripe_gateway.key_for(customer, f"setup:{attempt_key}"),
    )
    return SetupCheckout(intent["id"], intent["client_secret"], settings.STRIPE_PUBLISHABLE_KEY)


def saved_method_from_setup_intent(setup_intent_id: str, *, actor: Actor) -> SavedPaymentMethod | None:
    """Record the method a succeeded SetupIntent saved (from its webhook or the return page),
    once. The intent is fetched from Stripe: the event's copy is not trusted for ownership."""
    intent = stripe_gateway.setup_intent_retrieve(setup_intent_id)
    if intent.get("status") != "succeeded" or not intent.get("payment_method"):
        return None
    customer = Customer.objects.filter(stripe_customer_id=intent.get("customer") or "-").first()
    if customer is None:
        return None
    method = intent["payment_method"]
    if isinstance(method, str):
        method = stripe_gateway.payment_method_retrieve(method)
    if method.get("type") not in REUSABLE_TYPES:
        return None
    card = method.get("card") or {}
    with transaction.atomic():
        saved, created = SavedPaymentMethod.objects.get_or_create(
            stripe_payment_method_id=method["id"],
            defaults={
                "customer": customer,
                "kind": method["type"],
                "brand": str(card.get("brand") or "")[:32],
                "last4": str(card.get("last4") or "")[:4],
                "exp_month": card.get("exp_month"),
                "exp_year": card.get("exp_year"),
            },
        )
        if created:
            audit_record(
                actor=actor,
                action="payment_method.saved",
                obj=saved,
                changes={"method": str(saved)},
                reason=f"the customer saved it (Stripe {method['id']})",
            )
    return saved


def saved_methods_of(customer: Customer):
    return SavedPaymentMethod.objects.filter(customer=customer, removed_at__isnull=True)


def saved_method_remove(
    *, customer: Customer, method_id: int, actor: Actor, reason: str = "the customer removed it"
) -> SavedPaymentMethod:
    """Remove one of the customer's own saved methods (another customer's is "not found"),
    on Stripe too. Staff removing it for the customer say why in ``reason``."""
    saved = saved_methods_of(customer).filter(pk=method_id).first()
    if saved is None:
        raise DomainError(_("This payment method was not found."), code="not_found")
    try:
        stripe_gateway.payment_method_detach(saved.stripe_payment_method_id)
    except stripe_gateway.ProviderError as exc:
        if exc.retryable:
            raise
        # Already detached on Stripe's side: removing ours is what is left to do.
    SavedPaymentMethod.objects.filter(pk=saved.pk, removed_at__isnull=True).update(removed_at=timezone.now())
    audit_record(
        actor=actor, action="payment_method.removed", obj=saved, changes={"method": str(saved)}, reason=reason
    )
    return saved
