"""The only module that talks to Stripe, through the official library's ``StripeClient``.

Every POST carries an idempotency key chosen by the caller from our own ids, so a retried call
(ours, or the library's network retries) never creates a second PaymentIntent or refund. The
API version is pinned here, not taken from the account's default, so a dashboard upgrade
cannot change the shape of what we read. Amounts cross this boundary in minor units, converted
by ``reseller.money`` and nowhere else. What Stripe returns leaves this module as plain dicts
(the JSON Stripe sent), the same shape as a webhook event's object.
"""

import time
from dataclasses import dataclass
from functools import lru_cache

import stripe
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from reseller.errors import DomainError

#: The Stripe API version our code reads and writes; upgrading it is a code change.
API_VERSION = "2026-10-28.endive"


class ProviderError(DomainError):
    """Stripe refused the call or could not be reached. ``retryable`` is True when the outcome
    is unknown (network, Stripe's 5xx, rate limit): the same call with the same idempotency
    key may be made again safely."""

    code = "provider_error"
    default_message = _("The payment service did not answer; please try again in a moment.")

    def __init__(
        self,
        message=None,
        *,
        code=None,
        retryable=False,
        decline_code="",
        provider_message="",
        payment_intent: dict | None = None,
    ):
        super().__init__(message, code=code)
        self.retryable = retryable
        self.decline_code = decline_code
        self.provider_message = provider_message
        #: A declined confirmation's PaymentIntent, as Stripe returned it inside the error.
        self.payment_intent = payment_intent


class SignatureError(DomainError):
    code = "bad_signature"
    default_message = _("The webhook signature is not valid.")


@dataclass(frozen=True)
class Mode:
    """Which Stripe we are connected to: test or live keys, and the account."""

    livemode: bool
    account_id: str


def mode() -> Mode:
    return Mode(
        livemode=settings.STRIPE_SECRET_KEY.startswith(("sk_live_", "rk_live_")),
        account_id=settings.STRIPE_ACCOUNT_ID,
    )


@lru_cache(maxsize=4)
def _client(api_key: str, api_base: str, retries: int, timeout: int) -> stripe.StripeClient:
    options = {}
    if api_base:
        options["base_addresses"] = {"api": api_base, "connect": api_base, "files": api_base}
    return stripe.StripeClient(
        api_key,
        stripe_version=API_VERSION,
        max_network_retries=retries,
        http_client=stripe.new_default_http_client(timeout=timeout),
        **options,
    )


def client() -> stripe.StripeClient:
    if not settings.STRIPE_SECRET_KEY:
        raise ProviderError(_("Card payments are not configured."), code="not_configured")
    return _client(
        settings.STRIPE_SECRET_KEY,
        settings.STRIPE_API_BASE,
        settings.STRIPE_MAX_NETWORK_RETRIES,
        settings.STRIPE_TIMEOUT_SECONDS,
    )


def _call(function, *args, **kwargs) -> dict:
    try:
        result = function(*args, **kwargs)
        return result.to_dict() if isinstance(result, stripe.StripeObject) else result
    except stripe.CardError as exc:
        error = exc.error
        intent = getattr(error, "payment_intent", None)
        raise ProviderError(
            _("The card was declined."),
            code="card_declined",
            decline_code=getattr(error, "decline_code", None) or getattr(error, "code", None) or "",
            provider_message=exc.user_message or "",
            payment_intent=intent.to_dict() if isinstance(intent, stripe.StripeObject) else None,
        ) from exc
    except (stripe.APIConnectionError, stripe.RateLimitError) as exc:
        raise ProviderError(retryable=True, provider_message=str(exc)) from exc
    except stripe.StripeError as exc:
        status = exc.http_status or 0
        raise ProviderError(
            _("The payment service refused this request."),
            code="provider_refused",
            # No HTTP status (an unreadable answer), a conflict or Stripe's own error: the
            # outcome is unknown, so the same call may be made again with the same key.
            retryable=not 400 <= status < 500 or status == 409,
            provider_message=exc.user_message or str(exc),
        ) from exc


def key_for(obj, action: str) -> str:
    """The idempotency key of ``action`` on one of our rows: its table, id and creation time.
    The same row always gets the same key (a retry is recognised), while a row that reuses an
    id (a restored database, a test database) gets a new one: Stripe keeps keys 24 hours and
    would otherwise answer with another object's result or refuse the call."""
    created = int(obj.created_at.timestamp() * 1_000_000)
    return f"{obj._meta.model_name}:{obj.pk}:{created}:{action}"


# --- Customers ---------------------------------------------------------------------------------


def customer_create(*, email: str, name: str, metadata: dict, idempotency_key: str) -> dict:
    return _call(
        client().v1.customers.create,
        {"email": email, "name": name, "metadata": metadata},
        {"idempotency_key": idempotency_key},
    )


# --- PaymentIntents ----------------------------------------------------------------------------


def payment_intent_create(params: dict, *, idempotency_key: str) -> dict:
    return _call(client().v1.payment_intents.create, params, {"idempotency_key": idempotency_key})


def payment_intent_retrieve(intent_id: str) -> dict:
    return _call(client().v1.payment_intents.retrieve, intent_id, {"expand": ["latest_charge"]})


def payment_intent_cancel(intent_id: str, *, idempotency_key: str) -> dict:
    return _call(client().v1.payment_intents.cancel, intent_id, {}, {"idempotency_key": idempotency_key})


def payment_intents_since(created_gte: int):
    """Every PaymentIntent created at or after ``created_gte`` (Unix time), newest first, page
    by page, without holding them all in memory."""
    return _paginate(
        client().v1.payment_intents.list,
        {"created": {"gte": created_gte}, "limit": 100, "expand": ["data.latest_charge"]},
    )


# --- Refunds -----------------------------------------------------------------------------------


def refund_create(params: dict, *, idempotency_key: str) -> dict:
    return _call(client().v1.refunds.create, params, {"idempotency_key": idempotency_key})


def refund_retrieve(refund_id: str) -> dict:
    return _call(client().v1.refunds.retrieve, refund_id)


def refunds_of_intent(intent_id: str):
    return _paginate(client().v1.refunds.list, {"payment_intent": intent_id, "limit": 100})


def refunds_since(created_gte: int):
    return _paginate(client().v1.refunds.list, {"created": {"gte": created_gte}, "limit": 100})


# --- Saved payment methods ---------------------------------------------------------------------


def setup_intent_create(params: dict, *, idempotency_key: str) -> dict:
    return _call(client().v1.setup_intents.create, params, {"idempotency_key": idempotency_key})


def setup_intent_retrieve(setup_intent_id: str) -> dict:
    return _call(client().v1.setup_intents.retrieve, setup_intent_id, {"expand": ["payment_method"]})


def payment_method_retrieve(payment_method_id: str) -> dict:
    return _call(client().v1.payment_methods.retrieve, payment_method_id)


def payment_method_detach(payment_method_id: str) -> dict:
    return _call(client().v1.payment_methods.detach, payment_method_id)


# --- Webhooks ----------------------------------------------------------------------------------


def event_verify(payload: bytes, signature_header: str) -> dict:
    """The event in ``payload`` if its signature is ours and it was signed within the
    tolerance. The library refuses old timestamps only; one signed in the future (a replayed
    capture with a forged clock, or a clock far off) is refused here too."""
    tolerance = settings.STRIPE_WEBHOOK_TOLERANCE_SECONDS
    if not settings.STRIPE_WEBHOOK_SECRET:
        raise SignatureError(_("Webhooks are not configured."))
    try:
        event = stripe.Webhook.construct_event(
            payload, signature_header, settings.STRIPE_WEBHOOK_SECRET, tolerance
        ).to_dict()
    except stripe.SignatureVerificationError as exc:
        raise SignatureError() from exc
    except ValueError as exc:  # not JSON
        raise SignatureError(_("The webhook body is not a Stripe event.")) from exc
    signed_at = _signed_at(signature_header)
    if signed_at is None or signed_at > time.time() + tolerance:
        raise SignatureError(_("The webhook was signed in the future."))
    return event


def _signed_at(header: str) -> int | None:
    for part in header.split(","):
        key, _sep, value = part.strip().partition("=")
        if key == "t":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _paginate(list_method, params: dict):
    starting_after = None
    while True:
        page_params = dict(params, **({"starting_after": starting_after} if starting_after else {}))
        page = _call(list_method, page_params)
        items = page["data"]
        yield from items
        if not page.get("has_more") or not items:
            return
        starting_after = items[-1]["id"]
