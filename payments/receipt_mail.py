"""E-mailing a receipt when a payment succeeds, in the customer's language, with the PDF.

A payment someone else made for the customer's line (the public top-up) has its receipt sent
to the address they gave (``Payment.receipt_email``). That payer gets the receipt in the mail's
text, in the language they read the top-up page in and the seller's time zone, without the
PDF: the PDF names the line's owner, with their e-mail and address, which the top-up never
reveals to whoever knows a number."""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMessage
from django.db.models import Q
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _

from payments.models import Payment
from reseller.faults import fault_point
from reseller.money import format_money

logger = logging.getLogger(__name__)

#: How long a worker may take to render and send one receipt before it is presumed lost. Longer
#: than a slow PDF and SMTP exchange: a receipt sent twice is better than none, but still a fault.
RECEIPT_CLAIM_SECONDS = 300


def receipt_email_send(*, payment_id: int) -> str:
    """Send the receipt once. The claim (a compare-and-set lease on ``receipt_claimed_until``)
    stops two workers sending it at once; a failed send gives the claim back so a retry sends
    it, and a worker lost between its claim and the send leaves a lease that runs out, so the
    catch-up job sends the receipt then. The receipt is marked sent only once it went out."""
    payment = Payment.objects.select_related("customer", "renewal__plan", "renewal__line").get(pk=payment_id)
    recipient = payment.receipt_email or payment.customer.email
    if payment.status != Payment.Status.SUCCEEDED or not recipient:
        return "skipped"
    now = timezone.now()
    claimed = (
        Payment.objects.filter(pk=payment.pk, receipt_sent_at__isnull=True)
        .filter(Q(receipt_claimed_until__isnull=True) | Q(receipt_claimed_until__lt=now))
        .update(receipt_claimed_until=now + timedelta(seconds=RECEIPT_CLAIM_SECONDS))
    )
    if not claimed:
        return "sent or being sent"
    try:
        fault_point("receipt.before_send")
        if payment.receipt_email:
            message = _payer_receipt(payment)
        else:
            message = _customer_receipt(payment)
        message.send()
    except Exception:
        Payment.objects.filter(pk=payment.pk).update(receipt_claimed_until=None)
        raise
    Payment.objects.filter(pk=payment.pk).update(receipt_sent_at=timezone.now(), receipt_claimed_until=None)
    return "sent"


#: Receipts are sent late only for payments this recent: no burst of old mail after a deploy.
UNSENT_LOOKBACK = timedelta(days=2)


def receipts_unsent():
    """Payments whose receipt is e-mailed (card and wallet-app payments, which Stripe took;
    cash, bank transfers and partner wallets get theirs at the counter or from the partner)
    and has not gone out yet, with someone to send it to."""
    return (
        Payment.objects.filter(status=Payment.Status.SUCCEEDED, receipt_sent_at__isnull=True)
        .exclude(stripe_payment_intent_id="")
        .exclude(receipt_email="", customer__email="")
    )


def receipts_unsent_send(*, now: datetime | None = None, limit: int = 200) -> int:
    """Send the receipts whose send task was lost (the broker down when the payment
    succeeded, a worker killed before or while sending, once its claim ran out): Stripe
    payments that succeeded NOTIFICATION_RESEND_AFTER_MINUTES ago or more, within the last two
    days, without a receipt sent. Returns how many were sent."""
    now = now or timezone.now()
    due = (
        receipts_unsent()
        .filter(
            paid_at__gt=now - UNSENT_LOOKBACK,
            paid_at__lte=now - timedelta(minutes=settings.NOTIFICATION_RESEND_AFTER_MINUTES),
        )
        .filter(Q(receipt_claimed_until__isnull=True) | Q(receipt_claimed_until__lt=now))
        .order_by("paid_at")
        .values_list("pk", flat=True)[:limit]
    )
    sent = 0
    for payment_id in list(due):
        try:
            sent += receipt_email_send(payment_id=payment_id) == "sent"
        except Exception:  # one address's trouble must not hold back the others
            logger.exception("receipt of payment %s not sent; the next run tries again", payment_id)
    return sent


def _customer_receipt(payment: Payment) -> EmailMessage:
    from payments.receipt_pdf import receipt_pdf

    with translation.override(payment.customer.language):
        pdf = receipt_pdf(payment, language=payment.customer.language)
        message = EmailMessage(
            subject=_("Your receipt %(number)s") % {"number": payment.receipt_number},
            body=_(
                "Hello %(name)s,\n\nThank you for your payment of %(amount)s %(currency)s. "
                "Your receipt %(number)s is attached.\n"
            )
            % {
                "name": payment.customer.full_name,
                "amount": payment.amount,
                "currency": payment.currency,
                "number": payment.receipt_number,
            },
            to=[payment.customer.email],
        )
    message.attach(f"{payment.receipt_number}.pdf", pdf, "application/pdf")
    return message


def _payer_receipt(payment: Payment) -> EmailMessage:
    from payments.topup import mask_iccid  # the top-up builds on this app's services

    renewal = payment.renewal
    language = payment.receipt_language or settings.LANGUAGE_CODE
    with translation.override(language):
        # The payer is anonymous: no zone of theirs is known, so the seller's (Europe/Paris).
        paid_at = timezone.localtime(payment.paid_at)
        body = _(
            "Hello,\n\nThank you for your top-up. Your receipt:\n\n"
            "Receipt number: %(number)s\nDate: %(date)s (%(zone)s)\nPlan: %(plan)s\nSIM: %(sim)s\n"
            "Amount paid: %(amount)s\nPayment method: %(method)s\n\n"
            "Amounts include VAT where applicable. Questions about this receipt: %(contact)s\n"
        ) % {
            "number": payment.receipt_number,
            "date": formats.date_format(paid_at, "DATETIME_FORMAT"),
            "zone": paid_at.tzname(),
            "plan": renewal.plan.display_name(language) if renewal else "",
            "sim": mask_iccid(renewal.line.iccid) if renewal else "",
            "amount": format_money(payment.amount, payment.currency),
            "method": payment.get_method_display(),
            "contact": getattr(settings, "RECEIPT_SELLER_EMAIL", "support@example.com"),
        }
        return EmailMessage(
            subject=_("Your top-up receipt %(number)s") % {"number": payment.receipt_number},
            body=body,
            to=[payment.receipt_email],
        )
