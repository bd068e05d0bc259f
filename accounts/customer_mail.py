"""Messages to a customer about their own account, in their language: the code that confirms a
new e-mail or phone number, and the outcome of a correction they asked for."""

import logging

from django.core.mail import send_mail
from django.utils import translation
from django.utils.translation import gettext as _

from accounts.models import ContactVerification, Correction

logger = logging.getLogger(__name__)


def contact_code_send(*, verification: ContactVerification, code: str) -> None:
    customer = verification.customer
    with translation.override(customer.language):
        text = _("Your confirmation code is %(code)s. It is valid for 15 minutes.") % {"code": code}
        if verification.field == ContactVerification.Field.EMAIL:
            send_mail(_("Confirm your new e-mail address"), text, None, [verification.new_value])
        else:
            from notifications.sms import get_sms_backend

            get_sms_backend().send(to=verification.new_value, body=text)


def correction_outcome_send(*, correction_id: int) -> str:
    """Tell the customer what became of their request (approved or rejected, and why)."""
    from accounts.details import REQUESTABLE

    correction = Correction.objects.select_related("customer").get(pk=correction_id)
    customer = correction.customer
    if correction.status == Correction.Status.REQUESTED or not customer.email:
        return "skipped"
    with translation.override(customer.language):
        label = str(REQUESTABLE[correction.field][0]) if correction.field in REQUESTABLE else correction.field
        if correction.status == Correction.Status.APPLIED:
            subject = _("Your requested change was made")
            verdict = _("We made the change you asked for: %(what)s.") % {"what": label}
        else:
            subject = _("About your requested change")
            verdict = _("We could not make the change you asked for: %(what)s.") % {"what": label}
        body = "\n\n".join(
            [
                _("Hello %(name)s,") % {"name": customer.full_name},
                verdict,
                _("Our comment: %(comment)s") % {"comment": correction.decision_comment},
                _("You can see your requests on your account page."),
            ]
        )
        send_mail(subject, body, None, [customer.email])
    return "sent"
