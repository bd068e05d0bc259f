"""Why a payment failed, in words a customer understands, and what they can do about it.

Stripe's decline codes are for us; customers get one of a few plain messages. The message is
stored untranslated (its msgid) and translated when shown, in the language of whoever reads it.
"""

from django.utils.translation import gettext
from django.utils.translation import gettext_noop as _noop

_MESSAGES = {
    "insufficient_funds": _noop("Your card has insufficient funds. Try another card or payment method."),
    "expired_card": _noop("Your card has expired. Please use another card."),
    "incorrect_cvc": _noop("The card's security code is incorrect. Please check it and try again."),
    "invalid_cvc": _noop("The card's security code is incorrect. Please check it and try again."),
    "incorrect_number": _noop("The card number is incorrect. Please check it and try again."),
    "authentication_required": _noop(
        "Your bank asks you to confirm this payment. Open the payment link to confirm it."
    ),
    "card_velocity_exceeded": _noop("Your card's limit was reached. Try another card or payment method."),
    "lost_card": _noop("This card cannot be used. Please use another card or payment method."),
    "stolen_card": _noop("This card cannot be used. Please use another card or payment method."),
    "processing_error": _noop("The payment could not be processed. Please try again in a moment."),
}
_DEFAULT = _noop("Your bank declined the payment. Try another card or payment method, or contact your bank.")


def customer_message_for(decline_code: str) -> str:
    """The untranslated message for a decline code (store it; show it with ``gettext``)."""
    return _MESSAGES.get(decline_code, _DEFAULT)


def decline_message(stored: str) -> str:
    """A stored message, in the current language."""
    return gettext(stored) if stored else ""
