"""Stripe's test cards and pm_card_* tokens with their decline codes; PaymentMethods (wallets too,
attach/detach as on Stripe, lists by customer); Charges (decline codes, outcome, payment method details,
charge.succeeded and charge.failed)."""

from localstripe.resources import Charge, Customer, PaymentMethod, StripeObject, store

from .common import CardError, bad_request, emit, listed, newest_first, one_of, reject_unknown

# -- Test cards: Stripe's numbers and pm_card_* tokens, with their decline codes ----------------------

#: card number → (code, decline_code, message) of the charge the issuer declines
CARD_DECLINES = {
    "4000000000000002": ("card_declined", "generic_decline", "Your card was declined."),
    "4000000000009995": ("card_declined", "insufficient_funds", "Your card has insufficient funds."),
    "4000000000009987": ("card_declined", "lost_card", "Your card was declined."),
    "4000000000009979": ("card_declined", "stolen_card", "Your card was declined."),
    "4000000000000069": ("expired_card", "expired_card", "Your card has expired."),
    "4000000000000127": ("incorrect_cvc", "incorrect_cvc", "Your card's security code is incorrect."),
    "4000000000000119": (
        "processing_error",
        "processing_error",
        "An error occurred while processing your card. Try again in a little bit.",
    ),
    # Attaches fine, declines when charged: what a saved card does when it stops working.
    "4000000000000341": ("card_declined", "generic_decline", "Your card was declined."),
    # 3-D Secure first, then declined.
    "4000008260003178": ("card_declined", "insufficient_funds", "Your card has insufficient funds."),
    "4000008400001629": ("card_declined", "generic_decline", "Your card was declined."),
}
#: needs authentication on-session only; once set up for off-session use, off-session charges pass
AUTHENTICATION_ON_SETUP = "4000002500003155"
TEST_TOKENS = {
    "pm_card_visa": "4242424242424242",
    "pm_card_mastercard": "5555555555554444",
    "pm_card_visa_chargeDeclined": "4000000000000002",
    "pm_card_chargeDeclined": "4000000000000002",
    "pm_card_chargeDeclinedInsufficientFunds": "4000000000009995",
    "pm_card_chargeDeclinedLostCard": "4000000000009987",
    "pm_card_chargeDeclinedStolenCard": "4000000000009979",
    "pm_card_chargeDeclinedExpiredCard": "4000000000000069",
    "pm_card_chargeDeclinedIncorrectCvc": "4000000000000127",
    "pm_card_chargeDeclinedProcessingError": "4000000000000119",
    "pm_card_chargeCustomerFail": "4000000000000341",
    "pm_card_authenticationRequired": "4000002760003184",
    "pm_card_authenticationRequiredOnSetup": AUTHENTICATION_ON_SETUP,
    "pm_card_authenticationRequiredChargeDeclinedInsufficientFunds": "4000008260003178",
    "pm_card_threeDSecure2Required": "4000000000003220",
    "pm_card_threeDSecureRequired": "4000000000003063",
}
WALLETS = ("alipay", "wechat_pay")
PAYMENT_METHOD_TYPES = ("card", "sepa_debit", *WALLETS)


def _test_token(cls, id):
    number = TEST_TOKENS.get(id)
    if number is None:
        return None
    return PaymentMethod(
        type="card", card={"number": number, "exp_month": "12", "exp_year": "2034", "cvc": "123"}
    )


_original_pm_init = PaymentMethod.__init__


def _pm_init(self, *args, **kwargs):
    _original_pm_init(self, *args, **kwargs)
    if self.type == "card":  # localstripe calls every card a visa
        self.card["brand"] = "mastercard" if self._card_number.startswith(("2", "5")) else "visa"


def _charging_is_declined(self) -> bool:
    if self.type == "card":
        return self._bank_declines is not None or self._card_number in CARD_DECLINES
    return self.type == "sepa_debit" and self._sepa_debit_iban == "DE62370400440532013001"


def card_decline(payment_method) -> tuple[str, str, str]:
    forced = getattr(payment_method, "_bank_declines", None)
    if forced is not None:
        return forced
    number = getattr(payment_method, "_card_number", None)
    return CARD_DECLINES.get(number, CARD_DECLINES["4000000000000002"])


#: decline code → (code, decline_code, message), for a saved card the bank starts declining
_BY_DECLINE_CODE = {decline: (code, decline, message) for code, decline, message in CARD_DECLINES.values()}
_BY_DECLINE_CODE["authentication_required"] = (
    "authentication_required",
    "authentication_required",
    "Your card was declined. This transaction requires authentication.",
)


def simulate_bank_declines(id, decline_code=None, **kwargs):
    """The card's bank starts declining a saved card (funds ran out, card reported lost...):
    its charges from now on fail with ``decline_code``; "none" makes them pass again. Stripe's
    test cards that decline on charge also decline when attached, so a saved card that fails
    later can only be made this way."""
    reject_unknown(kwargs)
    pm = PaymentMethod._api_retrieve(id)
    if decline_code == "none":
        pm._bank_declines = None
    elif decline_code in _BY_DECLINE_CODE:
        pm._bank_declines = _BY_DECLINE_CODE[decline_code]
    else:
        raise bad_request(f"decline_code must be one of: none, {', '.join(sorted(_BY_DECLINE_CODE))}")
    return pm


PaymentMethod.__init__ = _pm_init
PaymentMethod._try_get_canonical_test_article = classmethod(_test_token)
PaymentMethod._charging_is_declined = _charging_is_declined
#: (code, decline_code, message) when the bank declines this saved card from now on
PaymentMethod._bank_declines = None
#: set when a SetupIntent (or a payment with setup_future_usage=off_session) authenticated the card
PaymentMethod._set_up_off_session = False
#: set when the method paid without being saved to a customer, or was detached: Stripe refuses it then
PaymentMethod._consumed = False


# -- PaymentMethods: wallets, Stripe's attach/detach errors and events, lists by customer -------------

_original_pm_create = PaymentMethod._api_create.__func__


def _pm_create(cls, **data):
    if data.get("type") not in WALLETS:
        return _original_pm_create(cls, **data)
    wallet = data.pop("type")
    billing_details, metadata = data.pop("billing_details", None), data.pop("metadata", None)
    data.pop(wallet, None)
    reject_unknown(data)
    # localstripe knows card and sepa_debit only; a wallet method has no details to validate.
    obj = PaymentMethod.__new__(PaymentMethod)
    StripeObject.__init__(obj)
    obj.type = wallet
    obj.billing_details = billing_details or {}
    obj.customer = None
    obj.metadata = metadata or {}
    setattr(obj, wallet, {})
    return obj


def _pm_attach(cls, id, customer=None, **kwargs):
    reject_unknown(kwargs)
    obj = cls._api_retrieve(id)
    Customer._api_retrieve(customer or "")
    refuse_if_consumed(obj)
    if obj.customer and obj.customer != customer:
        raise bad_request("The payment method you provided has already been attached to a customer.")
    if obj._attaching_is_declined():
        code, decline_code, message = card_decline(obj)
        raise CardError({"code": code, "decline_code": decline_code, "message": message, "param": "card"})
    if obj.customer != customer:
        obj.customer = customer
        emit("payment_method.attached", obj)
    return obj


def _pm_detach(cls, id, **kwargs):
    reject_unknown(kwargs)
    obj = cls._api_retrieve(id)
    if obj.customer is None:
        raise bad_request(
            f"The payment method {obj.id} is not attached to a customer so detachment is impossible."
        )
    customer = store.get("customer:" + obj.customer)
    if customer is not None and customer.invoice_settings.get("default_payment_method") == obj.id:
        customer.invoice_settings["default_payment_method"] = None
    obj.customer = None
    obj._consumed = True
    emit("payment_method.detached", obj)
    return obj


def _pm_list(cls, url, customer=None, type=None, limit=None, starting_after=None, **kwargs):
    reject_unknown(kwargs)
    one_of("type", type, PAYMENT_METHOD_TYPES)
    Customer._api_retrieve(customer or "")
    return newest_first(
        cls,
        url,
        limit=limit,
        starting_after=starting_after,
        keep=lambda pm: pm.customer == customer and type in (None, pm.type),
    )


def _customer_payment_methods(id, **params):
    return PaymentMethod._api_list_all(f"/v1/customers/{id}/payment_methods", customer=id, **params)


def refuse_if_consumed(pm) -> None:
    if pm._consumed and pm.customer is None:
        raise bad_request(
            "This PaymentMethod was previously used without being attached to a Customer or was detached "
            "from a Customer, and may not be used again.",
            "payment_method_unexpected_state",
        )


def payment_method_from(payment_method=None, payment_method_data=None):
    if payment_method_data is not None:
        if not isinstance(payment_method_data, dict):
            raise bad_request("Invalid payment_method_data: must be an object")
        return PaymentMethod._api_create(**payment_method_data)
    if payment_method is not None:
        return PaymentMethod._api_retrieve(payment_method)
    return None


PaymentMethod._api_create = classmethod(_pm_create)
PaymentMethod._api_attach = classmethod(_pm_attach)
PaymentMethod._api_detach = classmethod(_pm_detach)
PaymentMethod._api_list_all = classmethod(_pm_list)


# -- Charges: decline codes, outcome, charge.succeeded / charge.failed --------------------------------


def _charge_set_auth_failure(self):
    code, decline_code, message = card_decline(store.get("payment_method:" + self.payment_method))
    self.status, self.failure_code, self.failure_message = "failed", code, message
    self._decline_code = decline_code
    emit("charge.failed", self)


def _charge_raise_failure(self):
    raise CardError(charge_error(self))


def charge_error(charge) -> dict:
    return {
        "charge": charge.id,
        "code": charge.failure_code,
        "decline_code": charge._decline_code,
        "doc_url": "https://stripe.com/docs/error-codes/" + charge.failure_code.replace("_", "-"),
        "message": charge.failure_message,
    }


_original_trigger_payment = Charge._trigger_payment


def _charge_trigger_payment(self, on_success=None):
    def succeeded():
        emit("charge.succeeded", self)
        if on_success:
            on_success()

    _original_trigger_payment(self, on_success=succeeded)


def _charge_outcome(self):
    if self.status == "succeeded":
        return {
            "network_status": "approved_by_network",
            "reason": None,
            "risk_level": "normal",
            "seller_message": "Payment complete.",
            "type": "authorized",
        }
    if self.status == "failed":
        return {
            "network_status": "declined_by_network",
            "reason": self._decline_code,
            "risk_level": "normal",
            "seller_message": "The bank did not return any further details with this decline.",
            "type": "issuer_declined",
        }
    return None


def _charge_payment_method_details(self):
    pm = store.get("payment_method:" + (self.payment_method or ""))
    if pm is None:
        return None
    if pm.type != "card":
        return {"type": pm.type, pm.type: dict(getattr(pm, pm.type, {}))}
    card = pm.card
    return {
        "type": "card",
        "card": {
            "brand": card["brand"],
            "country": card["country"],
            "exp_month": card["exp_month"],
            "exp_year": card["exp_year"],
            "fingerprint": card["fingerprint"],
            "funding": card["funding"],
            "last4": card["last4"],
            "network": card["brand"],
        },
    }


def _charge_amount_refunded(self):
    # A failed refund gives the money back to us: it no longer counts as refunded.
    return sum(r.amount for r in self.refunds._list if r.status not in ("failed", "canceled"))


Charge._decline_code = None
Charge._set_auth_failure = _charge_set_auth_failure
Charge._raise_failure = _charge_raise_failure
Charge._trigger_payment = _charge_trigger_payment
Charge.outcome = property(_charge_outcome)
Charge.payment_method_details = property(_charge_payment_method_details)
Charge.amount_refunded = property(_charge_amount_refunded)
Charge.amount_captured = property(lambda self: self.amount if self.captured and self.paid else 0)


def _charge_list(
    cls, url, customer=None, payment_intent=None, created=None, limit=None, starting_after=None, **kwargs
):
    reject_unknown(kwargs)
    return listed(
        cls,
        url,
        created=created,
        limit=limit,
        starting_after=starting_after,
        customer=customer,
        payment_intent=payment_intent,
    )


Charge._api_list_all = classmethod(_charge_list)

ROUTES = [
    ("GET", "/v1/customers/{id}/payment_methods", _customer_payment_methods),
    ("POST", "/_test/payment_methods/{id}/bank_declines", simulate_bank_declines),
]
