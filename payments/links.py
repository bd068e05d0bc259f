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


_RENEWAL_SALT = "payments.renewal-link"


def renewal_token(renewal) -> str:
    return signing.dumps({"renewal": renewal.pk}, salt=_RENEWAL_SALT, compress=True)


def renewal_from_token(token: str):
    from plans.models import Renewal

    try:
        data = signing.loads(token, salt=_RENEWAL_SALT, max_age=MAX_AGE_SECONDS)
    except signing.BadSignature:
        return None
    return Renewal.objects.select_related("plan", "line__customer").filter(pk=data.get("renewal")).first()


def renewal_pay_url(renewal) -> str:
    """An absolute link where the customer pays a renewal with the method they choose (card,
    Alipay, WeChat Pay): what a failed-payment message sends them to."""
    from django.conf import settings

    return settings.SITE_URL + reverse("payments:renew", args=[renewal_token(renewal)])


def pay_url(payment: Payment) -> str:
    return reverse("payments:pay", args=[payment_token(payment)])


def return_url(payment: Payment) -> str:
    return reverse("payments:return", args=[payment_token(payment)])
