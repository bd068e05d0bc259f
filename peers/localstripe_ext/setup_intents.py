"""SetupIntents as on Stripe: a failed attempt returns to requires_payment_method with last_setup_error,
success attaches the card to the customer and readies it for off-session charges, and events."""

from localstripe.errors import UserError
from localstripe.resources import PaymentMethod, SetupIntent, store, try_convert_to_bool

from .cards import card_decline, payment_method_from, refuse_if_consumed
from .common import CardError, bad_request, emit, one_of, reject_unknown, unexpected_state

SetupIntent.description = None
SetupIntent.last_setup_error = None
SetupIntent.cancellation_reason = None
SetupIntent.automatic_payment_methods = None
SETI_CONFIRMABLE = ("requires_payment_method", "requires_confirmation", "requires_action")
_original_seti_create = SetupIntent._api_create.__func__


def _seti_create(
    cls,
    confirm=None,
    payment_method=None,
    payment_method_data=None,
    description=None,
    automatic_payment_methods=None,
    return_url=None,
    use_stripe_sdk=None,
    **data,
):
    pm = payment_method_from(payment_method, payment_method_data)
    obj = _original_seti_create(cls, **data)
    obj.description = description
    obj.automatic_payment_methods = automatic_payment_methods
    if pm is not None:
        obj.payment_method = pm.id
        obj.status = "requires_confirmation"
    emit("setup_intent.created", obj)
    if try_convert_to_bool(confirm) is True:
        if pm is None:
            raise bad_request("You cannot confirm this SetupIntent because it's missing a payment method.")
        _seti_attempt(obj, pm)
    return obj


def _seti_confirm(
    cls,
    id,
    payment_method=None,
    payment_method_data=None,
    use_stripe_sdk=None,
    client_secret=None,
    return_url=None,
    mandate_data=None,
    **kwargs,
):
    reject_unknown(kwargs)
    obj = cls._api_retrieve(id)
    if client_secret and client_secret != obj.client_secret:
        raise UserError(401, "Unauthorized")
    pm = payment_method_from(payment_method, payment_method_data)
    if obj.status not in SETI_CONFIRMABLE:
        raise unexpected_state(obj, "confirm", SETI_CONFIRMABLE)
    pm = pm or (PaymentMethod._api_retrieve(obj.payment_method) if obj.payment_method else None)
    if pm is None:
        raise bad_request("You cannot confirm this SetupIntent because it's missing a payment method.")
    return _seti_attempt(obj, pm)


def _seti_attempt(seti, pm):
    refuse_if_consumed(pm)
    seti.payment_method = pm.id
    seti.last_setup_error = None
    seti.next_action = None
    if pm._attaching_is_declined():
        code, decline_code, message = card_decline(pm)
        error = {"code": code, "decline_code": decline_code, "message": message, "type": "card_error"}
        _seti_fail(seti, error)
        raise CardError({**seti.last_setup_error, "setup_intent": seti._export()})
    if pm._requires_authentication():
        seti.status = "requires_action"
        seti.next_action = {
            "type": "use_stripe_sdk",
            "use_stripe_sdk": {"type": "three_d_secure_redirect", "stripe_js": ""},
        }
        emit("setup_intent.requires_action", seti)
        return seti
    return _seti_succeed(seti, pm)


def _seti_succeed(seti, pm):
    seti.status = "succeeded"
    seti.next_action = None
    if seti.customer and pm.customer != seti.customer:
        pm.customer = seti.customer
        emit("payment_method.attached", pm)
    pm._set_up_off_session = pm._set_up_off_session or seti.usage == "off_session"
    emit("setup_intent.succeeded", seti)
    return seti


def _seti_fail(seti, error):
    pm = store.get("payment_method:" + (seti.payment_method or ""))
    seti.last_setup_error = {**error, "payment_method": pm._export() if pm else None}
    seti.payment_method = None
    seti.status = "requires_payment_method"
    seti.next_action = None
    emit("setup_intent.setup_failed", seti)


def _seti_cancel(cls, id, cancellation_reason=None, use_stripe_sdk=None, client_secret=None, **kwargs):
    reject_unknown(kwargs)
    one_of("cancellation_reason", cancellation_reason, ("abandoned", "requested_by_customer", "duplicate"))
    obj = cls._api_retrieve(id)
    if client_secret and client_secret != obj.client_secret:
        raise UserError(401, "Unauthorized")
    if obj.status in ("succeeded", "canceled"):
        raise unexpected_state(obj, "cancel", SETI_CONFIRMABLE)
    obj.status, obj.next_action, obj.cancellation_reason = "canceled", None, cancellation_reason
    emit("setup_intent.canceled", obj)
    return obj


def simulate_setup_authentication(id, success="true", client_secret=None, **kwargs):
    """The customer's answer on the 3-D Secure page; from the browser it carries the client_secret,
    checked by browser.py."""
    reject_unknown(kwargs)
    seti = SetupIntent._api_retrieve(id)
    if seti.status != "requires_action":
        raise unexpected_state(seti, "authenticate", ("requires_action",))
    if try_convert_to_bool(success) is True:
        return _seti_succeed(seti, PaymentMethod._api_retrieve(seti.payment_method))
    error = {
        "code": "setup_intent_authentication_failure",
        "message": "The latest attempt to set up the payment method has failed because authentication "
        "failed.",
        "type": "invalid_request_error",
    }
    _seti_fail(seti, error)
    return seti


SetupIntent._api_create = classmethod(_seti_create)
SetupIntent._api_confirm = classmethod(_seti_confirm)
SetupIntent._api_cancel = classmethod(_seti_cancel)
ROUTES = [("POST", "/_test/setup_intents/{id}/authenticate", simulate_setup_authentication)]
