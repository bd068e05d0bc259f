"""Signed links to a payment's pages, for customers who are not logged in (public top-up,
e-mailed payment links): the link names one payment and cannot be altered or guessed."""

from django.core import signing
from django.urls import reverse

from payments.models import Payment

_SALT = "payments.payment-link"
MAX_AGE_SECONDS = 7 * 24 * 3600


def payment_token(payment: Payment) -> str:
    return signing.dumps({"payment": payment.pk}, salt=_SALT, compress=True)


def payment_from_token(token: str) -> Payment | None:
    try:
        data = signing.loads(token, salt=_SALT, max_age=MAX_AGE_SECONDS)
    except signing.BadSignature:
        return None
    return (
        Payment.objects.select_related("renewal__plan", "renewal__line", "customer")
        .filter(pk=data.get("payment"))
        .first()
    )


def pay_url(payment: Payment) -> str:
    return reverse("payments:pay", args=[payment_token(payment)])


def return_url(payment: Payment) -> str:
    return reverse("payments:return", args=[payment_token(payment)])
