"""E-mailing a receipt when a payment succeeds, in the customer's language, with the PDF."""

import logging

from django.core.mail import EmailMessage
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from payments.models import Payment

logger = logging.getLogger(__name__)


def receipt_email_send(*, payment_id: int) -> str:
    """Send the receipt once. The claim (a compare-and-set on ``receipt_sent_at``) stops two
    workers sending it twice; a failed send gives the claim back so a retry sends it."""
    payment = Payment.objects.select_related("customer").get(pk=payment_id)
    if payment.status != Payment.Status.SUCCEEDED or not payment.customer.email:
        return "skipped"
    claimed = Payment.objects.filter(pk=payment.pk, receipt_sent_at__isnull=True).update(
        receipt_sent_at=timezone.now()
    )
    if not claimed:
        return "already sent"
    try:
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
            message.send()
    except Exception:
        Payment.objects.filter(pk=payment.pk).update(receipt_sent_at=None)
        raise
    return "sent"
