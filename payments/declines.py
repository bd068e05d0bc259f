"""Why a payment failed, in words a customer understands, and what they can do about it.

Stripe's decline codes are for us; customers get one of a few plain messages. The message is
stored untranslated (its msgid) and translated when shown, in the language of whoever reads it.
"""

from django.utils.translation import gettext, gettext_noop

_MESSAGES = {
    "insufficient_funds": gettext_noop(
        "Your card has insufficient funds. Try another card or payment method."
    ),
    "expired_card": gettext_noop("Your card has expired. Please use another card."),
    "incorrect_cvc": gettext_noop("The card's security code is incorrect. Please check it and try again."),
    "invalid_cvc": gettext_noop("The card's security code is incorrect. Please check it and try again."),
    "incorrect_number": gettext_noop("The card number is incorrect. Please check it and try again."),
    "authentication_required": gettext_noop(
        "Your bank asks you to confirm this payment. Open the payment link to confirm it."
    ),
    "card_velocity_exceeded": gettext_noop(
        "Your card's limit was reached. Try another card or payment method."
    ),
    "lost_card": gettext_noop("This card cannot be used. Please use another card or payment method."),
    "stolen_card": gettext_noop("This card cannot be used. Please use another card or payment method."),
    "processing_error": gettext_noop("The payment could not be processed. Please try again in a moment."),
    "no_payment_method": gettext_noop(
        "There is no saved card to renew your line automatically. Pay with a card, Alipay or WeChat Pay."
    ),
}
_DEFAULT = gettext_noop(
    "Your bank declined the payment. Try another card or payment method, or contact your bank."
)


def customer_message_for(decline_code: str) -> str:
    """The untranslated message for a decline code (store it; show it with ``gettext``)."""
    return _MESSAGES.get(decline_code, _DEFAULT)


def decline_message(stored: str) -> str:
    """A stored message, in the current language."""
    return gettext(stored) if stored else ""
