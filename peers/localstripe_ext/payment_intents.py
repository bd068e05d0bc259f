"""PaymentIntents as Stripe has them in 2026: confirm with a payment method or test token, 3-D Secure and
wallet next actions the customer completes through /_test/, off-session charges of saved cards, failed
attempts that return the intent to requires_payment_method, and latest_charge as an id."""

import secrets
import time
from urllib.parse import urlencode

from localstripe.errors import UserError
from localstripe.resources import (
    Invoice,
    PaymentIntent,
    PaymentMethod,
    StripeObject,
    store,
    try_convert_to_bool,
)

from . import qr
from .cards import (
    AUTHENTICATION_ON_SETUP,
    PAYMENT_METHOD_TYPES,
    WALLETS,
    charge_error,
    payment_method_from,
    refuse_if_consumed,
)
from .common import (
    STATE,
    CardError,
    bad_request,
    emit,
    listed,
    one_of,
    reject_unknown,
    unexpected_state,
)

PI_CANCELABLE = (
    "requires_payment_method",
    "requires_capture",
    "requires_confirmation",
    "requires_action",
    "processing",
)
PI_CONFIRMABLE = ("requires_payment_method", "requires_confirmation", "requires_action")
for _name, _default in {
    "automatic_payment_methods": None,
    "canceled_at": None,
    "cancellation_reason": None,
    "confirmation_method": "automatic",
    "description": None,
    "payment_method_options": {},
    "payment_method_types": ["card"],
    "receipt_email": None,
    "setup_future_usage": None,
    "statement_descriptor": None,
    "statement_descriptor_suffix": None,
}.items():
    setattr(PaymentIntent, _name, _default)
PaymentIntent._last_payment_error = None
#: where the customer goes back after a redirect (the hosted test page sends them there)
PaymentIntent._return_url = None


def _pi_status(self):
    if self._canceled:
        return "canceled"
    if self.next_action:
        return "requires_action"
    charge = self.latest_charge
    # A failed charge stays latest_charge, as on Stripe, while the intent waits for a new method.
    if charge is not None and charge.status != "failed":
        if charge.status == "pending":
            return "processing"
        return "succeeded" if charge.captured else "requires_capture"
    return "requires_confirmation" if self.payment_method else "requires_payment_method"


def _pi_export(self, expand=None):
    obj = StripeObject._export(self, expand=expand)
    obj.pop("charges", None)  # gone from Stripe's API since 2022-11-15
    if isinstance(obj.get("latest_charge"), dict) and "latest_charge" not in [
        path.split(".")[0] for path in expand or []
    ]:
        obj["latest_charge"] = obj["latest_charge"]["id"]
    return obj


def _pi_amount_received(self):
    charge = self.latest_charge
    return self.amount if charge is not None and charge.status == "succeeded" and charge.captured else 0


def _pi_amount_capturable(self):
    return self.amount if self.status == "requires_capture" else 0


PaymentIntent.status = property(_pi_status)
PaymentIntent.last_payment_error = property(lambda self: self._last_payment_error)
PaymentIntent.amount_received = property(_pi_amount_received)
PaymentIntent.amount_capturable = property(_pi_amount_capturable)
PaymentIntent._export = _pi_export


def _pi_options(obj, *, setup_future_usage, receipt_email, payment_method_options):
    one_of("setup_future_usage", setup_future_usage, ("on_session", "off_session"))
    if setup_future_usage is not None:
        obj.setup_future_usage = setup_future_usage
    if receipt_email is not None:
        obj.receipt_email = receipt_email
    if payment_method_options is not None:
        obj.payment_method_options = payment_method_options


def _pi_create(
    cls,
    confirm=None,
    off_session=None,
    payment_method=None,
    payment_method_data=None,
    payment_method_types=None,
    automatic_payment_methods=None,
    description=None,
    receipt_email=None,
    setup_future_usage=None,
    payment_method_options=None,
    statement_descriptor=None,
    statement_descriptor_suffix=None,
    return_url=None,
    use_stripe_sdk=None,
    **data,
):
    confirm, off_session = try_convert_to_bool(confirm), try_convert_to_bool(off_session)
    if off_session is not None and confirm is not True:
        raise bad_request("off_session can only be used with confirm=true", "parameter_invalid_empty")
    payment_method_types = payment_method_types or ["card"]
    for method_type in payment_method_types:
        if method_type not in PAYMENT_METHOD_TYPES:
            raise bad_request(
                f"The payment method type provided: {method_type} is invalid.", "parameter_invalid_string"
            )
    if isinstance(data.get("currency"), str):
        data["currency"] = data["currency"].lower()
    pm = payment_method_from(payment_method, payment_method_data)
    obj = cls(payment_method=pm.id if pm else None, **data)
    obj.payment_method_types = list(payment_method_types)
    obj.automatic_payment_methods = automatic_payment_methods
    obj.description = description
    obj.statement_descriptor = statement_descriptor
    obj.statement_descriptor_suffix = statement_descriptor_suffix
    _pi_options(
        obj,
        setup_future_usage=setup_future_usage,
        receipt_email=receipt_email,
        payment_method_options=payment_method_options,
    )
    emit("payment_intent.created", obj)
    if confirm:
        _pi_start_attempt(obj, off_session=bool(off_session), return_url=return_url)
    return obj


def _pi_confirm(
    cls,
    id,
    payment_method=None,
    payment_method_data=None,
    off_session=None,
    return_url=None,
    setup_future_usage=None,
    receipt_email=None,
    payment_method_options=None,
    use_stripe_sdk=None,
    client_secret=None,
    error_on_requires_action=None,
    mandate_data=None,
    **kwargs,
):
    reject_unknown(kwargs)
    obj = cls._api_retrieve(id)
    if client_secret is not None and client_secret != obj.client_secret:
        raise bad_request("The client_secret provided does not match this PaymentIntent.")
    if obj.status not in PI_CONFIRMABLE:
        raise unexpected_state(obj, "confirm", PI_CONFIRMABLE)
    pm = payment_method_from(payment_method, payment_method_data)
    if pm is not None:
        obj.payment_method = pm.id
    if obj.payment_method is None:
        raise bad_request(
            "You cannot confirm this PaymentIntent because it's missing a payment method.",
            "payment_intent_unexpected_state",
        )
    _pi_options(
        obj,
        setup_future_usage=setup_future_usage,
        receipt_email=receipt_email,
        payment_method_options=payment_method_options,
    )
    obj.next_action = None
    _pi_start_attempt(obj, off_session=bool(try_convert_to_bool(off_session)), return_url=return_url)
    return obj


def _pi_start_attempt(pi, *, off_session: bool, return_url):
    pm = PaymentMethod._api_retrieve(pi.payment_method)
    if pm.type not in pi.payment_method_types:
        raise bad_request(
            f"The PaymentMethod provided ({pm.type}) is not allowed for this PaymentIntent. Please attach a "
            "PaymentMethod of one of the following types: " + ", ".join(pi.payment_method_types),
            "payment_intent_incompatible_payment_method",
        )
    if pi.customer and pm.customer not in (None, pi.customer):
        raise bad_request(
            "The provided PaymentMethod belongs to a different Customer.", "payment_method_invalid"
        )
    refuse_if_consumed(pm)
    pi._last_payment_error = None
    pi._return_url = return_url
    if pm.type in WALLETS:
        if off_session:
            raise bad_request(f"{pm.type} cannot be used off-session.", "payment_method_invalid")
        if pm.type == "alipay" and not return_url:
            raise bad_request("A return_url is required to confirm an alipay payment.", "parameter_missing")
        pi.next_action = _wallet_next_action(pi, pm.type, return_url)
        emit("payment_intent.requires_action", pi)
        return
    if pm._requires_authentication():
        if not off_session:
            pi.next_action = _three_d_secure_next_action(pi, return_url)
            emit("payment_intent.requires_action", pi)
            return
        # Off-session nobody can authenticate: only a card authenticated when it was saved passes.
        if not (pm._card_number == AUTHENTICATION_ON_SETUP and pm._set_up_off_session):
            _pi_fail_attempt(
                pi,
                {
                    "code": "authentication_required",
                    "decline_code": "authentication_required",
                    "doc_url": "https://stripe.com/docs/error-codes/authentication-required",
                    "message": "Your card was declined. This transaction requires authentication.",
                    "type": "card_error",
                },
                raise_now=True,
            )
    pi._create_charge(on_failure_now=pi._report_failure)


def customer_page_url(pi, page: str = "authenticate") -> str:
    """The page the customer's browser opens for a next action (browser.py serves it), authorised by the
    intent's client_secret as Stripe's hosted pages are by the token in their address."""
    return f"{STATE.base_url}/_test/payment_intents/{pi.id}/{page}?" + urlencode(
        {"client_secret": pi.client_secret}
    )


def _three_d_secure_next_action(pi, return_url):
    if return_url:
        url = customer_page_url(pi)
        return {"type": "redirect_to_url", "redirect_to_url": {"return_url": return_url, "url": url}}
    return {"type": "use_stripe_sdk", "use_stripe_sdk": {"type": "three_d_secure_redirect", "stripe_js": ""}}


def _wallet_next_action(pi, wallet, return_url):
    url = customer_page_url(pi)
    if wallet == "alipay":
        return {
            "type": "alipay_handle_redirect",
            "alipay_handle_redirect": {
                "native_data": None,
                "native_url": None,
                "return_url": return_url,
                "url": url,
            },
        }
    data = "weixin://wxpay/bizpayurl?pr=" + secrets.token_hex(8)
    return {
        "type": "wechat_pay_display_qr_code",
        "wechat_pay_display_qr_code": {
            "data": data,
            "hosted_instructions_url": url,
            "image_data_url": qr.png_data_url(data),
            "image_url_png": customer_page_url(pi, "qr.png"),
            "image_url_svg": customer_page_url(pi, "qr.svg"),
        },
    }


def _pi_fail_attempt(pi, error: dict, *, raise_now: bool, later: bool = False):
    """The attempt failed: Stripe moves the intent back to requires_payment_method and detaches the method
    from it, keeping it in last_payment_error."""
    pm = store.get("payment_method:" + (pi.payment_method or ""))
    pi._last_payment_error = {**error, "payment_method": pm._export() if pm else None}
    pi.payment_method = None
    pi.next_action = None
    emit("payment_intent.payment_failed", pi)
    if pi.invoice:
        invoice = Invoice._api_retrieve(pi.invoice)
        if later:
            invoice._on_payment_failure_later()
        else:
            invoice._on_payment_failure_now()
    if raise_now:
        raise CardError({**pi._last_payment_error, "payment_intent": pi._export()})


def _pi_report_failure(self):
    _pi_fail_attempt(self, {**charge_error(self.latest_charge), "type": "card_error"}, raise_now=True)


def _pi_report_async_failure(self):
    _pi_fail_attempt(
        self, {**charge_error(self.latest_charge), "type": "card_error"}, raise_now=False, later=True
    )


_original_pi_on_success = PaymentIntent._on_success


def _pi_on_success(self):
    pm = store.get("payment_method:" + (self.payment_method or ""))
    if pm is not None and self.customer and self.setup_future_usage:
        if pm.customer is None:
            pm.customer = self.customer
            emit("payment_method.attached", pm)
        pm._set_up_off_session = pm._set_up_off_session or self.setup_future_usage == "off_session"
    if pm is not None and pm.customer is None:
        pm._consumed = True
    _original_pi_on_success(self)


def _pi_complete_action(pi, success: bool):
    """What the customer does on the 3-D Secure page or in the Alipay / WeChat Pay app."""
    if pi.status != "requires_action":
        raise unexpected_state(pi, "authenticate", ("requires_action",))
    wallet = pi.next_action["type"] not in ("use_stripe_sdk", "redirect_to_url")
    pi.next_action = None
    if success:
        pi._create_charge(on_failure_now=pi._report_failure)
        return pi
    if wallet:
        error = {
            "code": "payment_intent_payment_attempt_failed",
            "message": "The latest payment attempt of this PaymentIntent has failed or been canceled, and "
            "the attached payment method has been removed. You can try confirming again with a new payment "
            "method.",
            "type": "invalid_request_error",
        }
    else:
        error = {
            "code": "payment_intent_authentication_failure",
            "message": "The provided PaymentMethod has failed authentication. You can provide "
            "payment_method_data or a new PaymentMethod to attempt to fulfill this PaymentIntent again.",
            "type": "invalid_request_error",
        }
    _pi_fail_attempt(pi, error, raise_now=False, later=True)
    return pi


def _pi_authenticate(cls, id, client_secret=None, success=False, **kwargs):
    """localstripe's own publishable-key route (/v1/payment_intents/{id}/_authenticate), kept for its
    localstripe-v3.js; our Stripe.js stand-in uses /_test/payment_intents/{id}/authenticate."""
    reject_unknown(kwargs)
    obj = cls._api_retrieve(id)
    if client_secret != obj.client_secret:
        raise UserError(401, "Unauthorized")
    return _pi_complete_action(obj, bool(try_convert_to_bool(success)))


def simulate_payment_authentication(id, success="true", client_secret=None, **kwargs):
    """The customer's answer on the 3-D Secure page or in the wallet app. From the browser (the Stripe.js
    stand-in's dialog, the hosted page) it carries the client_secret, checked by browser.py."""
    reject_unknown(kwargs)
    return _pi_complete_action(PaymentIntent._api_retrieve(id), try_convert_to_bool(success) is True)


def _pi_cancel(cls, id, cancellation_reason=None, **kwargs):
    reject_unknown(kwargs)
    one_of(
        "cancellation_reason",
        cancellation_reason,
        ("duplicate", "fraudulent", "requested_by_customer", "abandoned"),
    )
    obj = cls._api_retrieve(id)
    if obj.status not in PI_CANCELABLE:
        raise unexpected_state(obj, "cancel", PI_CANCELABLE)
    obj._canceled = True
    obj.next_action = None
    obj.cancellation_reason = cancellation_reason
    obj.canceled_at = int(time.time())
    emit("payment_intent.canceled", obj)
    return obj


def _pi_list(cls, url, customer=None, created=None, limit=None, starting_after=None, **kwargs):
    reject_unknown(kwargs)
    return listed(cls, url, created=created, limit=limit, starting_after=starting_after, customer=customer)


PaymentIntent._api_create = classmethod(_pi_create)
PaymentIntent._api_confirm = classmethod(_pi_confirm)
PaymentIntent._api_authenticate = classmethod(_pi_authenticate)
PaymentIntent._api_cancel = classmethod(_pi_cancel)
PaymentIntent._api_list_all = classmethod(_pi_list)
PaymentIntent._report_failure = _pi_report_failure
PaymentIntent._report_async_failure = _pi_report_async_failure
PaymentIntent._on_success = _pi_on_success
ROUTES = [("POST", "/_test/payment_intents/{id}/authenticate", simulate_payment_authentication)]
