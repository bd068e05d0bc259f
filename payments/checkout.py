"""Taking a renewal's payment through Stripe, and applying what Stripe says happened to it.

``payment_start`` opens one PaymentIntent per payment attempt, for exactly the renewal's price
snapshot: nothing the browser sends can change the amount, the currency or the plan.
``payment_apply_intent`` is the one place a PaymentIntent's state reaches our Payment, whoever
brings the news (the webhook, the customer's return page, the nightly reconciliation). It runs
under the line, renewal and payment row locks, moves statuses forward only, and marks the
payment paid exactly once, whichever of them comes first.
"""

import logging
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop

from accounts.audit import audit_record
from accounts.models import Customer, SimLine
from payments import stripe_gateway
from payments.declines import customer_message_for
from payments.locks import payment_lock
from payments.models import Payment, PaymentMethod
from payments.receipts import receipt_number_next
from plans.models import Renewal
from plans.renewals import renewal_mark_paid, renewal_request
from reseller.actors import Actor
from reseller.errors import DomainError
from reseller.money import from_stripe_minor_units, to_stripe_minor_units
from reseller.states import can_transition, transition

logger = logging.getLogger(__name__)

#: The methods a customer may choose, and the Stripe payment method type that carries each.
#: Apple Pay and Google Pay are wallets of the card type: the card element offers them.
STRIPE_METHOD_TYPES = {
    PaymentMethod.CARD: "card",
    PaymentMethod.ALIPAY: "alipay",
    PaymentMethod.WECHAT_PAY: "wechat_pay",
}
_WALLETS = {"apple_pay": PaymentMethod.APPLE_PAY, "google_pay": PaymentMethod.GOOGLE_PAY}
_TYPES = {"card": PaymentMethod.CARD, "alipay": PaymentMethod.ALIPAY, "wechat_pay": PaymentMethod.WECHAT_PAY}
#: An off-session attempt younger than this without an answer is presumed still being charged.
IN_FLIGHT_MINUTES = 10


@dataclass(frozen=True)
class Checkout:
    """What the payment page needs: the payment, and the secret Stripe.js confirms it with."""

    payment: Payment
    client_secret: str
    publishable_key: str


def stripe_customer_ensure(customer: Customer) -> str:
    """The customer's Stripe id, creating the Stripe customer once (a retry reuses the same
    idempotency key, and the compare-and-set keeps the first id if two requests race)."""
    if customer.stripe_customer_id:
        return customer.stripe_customer_id
    created = stripe_gateway.customer_create(
        email=customer.email,
        name=customer.full_name,
        metadata={"customer_id": str(customer.pk)},
        idempotency_key=stripe_gateway.key_for(customer, "create"),
    )
    Customer.objects.filter(pk=customer.pk, stripe_customer_id="").update(stripe_customer_id=created["id"])
    customer.refresh_from_db(fields=["stripe_customer_id"])
    return customer.stripe_customer_id


class AutomaticChargeInFlight(DomainError):
    """The renewal's saved card is being charged right now (409 in the API): paying it
    another way meanwhile would take the money twice."""

    code = "automatic_charge_in_flight"
    http_status = 409
    default_message = gettext_lazy(
        "An automatic payment with the saved card is being taken for this renewal; try again in a minute."
    )


def attempt_in_flight(attempt: Payment, *, now: datetime) -> bool:
    """Whether ``attempt`` is an automatic charge under way: an off-session attempt Stripe is
    processing, or one committed before its charge and not answered yet (no PaymentIntent id)
    for less than IN_FLIGHT_MINUTES. Older than that, its worker is presumed lost: the next
    auto-renew run charges it again under the same idempotency key."""
    if not attempt.off_session:
        return False
    if attempt.status == Payment.Status.PROCESSING:
        return True
    return (
        attempt.status == Payment.Status.PENDING
        and not attempt.stripe_payment_intent_id
        and attempt.created_at > now - timedelta(minutes=IN_FLIGHT_MINUTES)
    )


def renewal_refuse_while_charging(renewal_id: int) -> None:
    """Refuse (``AutomaticChargeInFlight``) to pay a renewal any other way while its saved card
    is being charged. The charge runs with no transaction open and no row locked (it waits
    for the provider): this check is what keeps a second payment out. Call it holding the
    renewal's row lock, under which auto-renew commits its attempt: either the attempt is
    seen here, or the payment made here is seen by auto-renew before it charges."""
    now = timezone.now()
    attempts = Payment.objects.filter(
        renewal_id=renewal_id,
        off_session=True,
        status__in=(Payment.Status.PENDING, Payment.Status.PROCESSING),
    )
    if any(attempt_in_flight(attempt, now=now) for attempt in attempts):
        raise AutomaticChargeInFlight()


def attempt_create(*, renewal: Renewal, method: str, **fields) -> Payment:
    """A new payment attempt of a renewal, for its price snapshot: never an amount from elsewhere."""
    return Payment.objects.create(
        renewal=renewal,
        customer_id=renewal.line.customer_id,
        amount=renewal.price_amount,
        currency=renewal.currency,
        method=method,
        **fields,
    )


def payment_start(*, renewal: Renewal, method: str, actor: Actor) -> Checkout:
    """Open (or reopen) the Stripe payment of a renewal waiting for payment. Called twice for
    the same renewal and method, it returns the same PaymentIntent: a double click or a reload
    never opens a second charge. Choosing another method cancels the open intents of the
    others first, so the customer cannot pay twice by switching method half-way."""
    if method not in STRIPE_METHOD_TYPES:
        raise DomainError(_("This payment method is not available."), code="method")
    customer = renewal.line.customer
    stripe_customer_ensure(customer)
    _cancel_other_attempts(renewal, method, actor=actor)
    with transaction.atomic():
        locked = Renewal.objects.select_for_update(no_key=True).get(pk=renewal.pk)
        if locked.status not in (Renewal.Status.PENDING_PAYMENT, Renewal.Status.FAILED):
            raise DomainError(_("This renewal is already paid or closed."), code="already_paid")
        renewal_refuse_while_charging(locked.pk)
        payment = (
            Payment.objects.filter(
                renewal=locked, method=method, status__in=Payment.OPEN_STATUSES, off_session=False
            )
            .order_by("-pk")
            .first()
        )
        if payment is None:
            payment = attempt_create(renewal=locked, method=method)
            audit_record(
                actor=actor,
                action="payment.started",
                obj=payment,
                changes={
                    "amount": [None, str(payment.amount)],
                    "currency": payment.currency,
                    "method": method,
                },
                reason=f"{method} payment page opened",
            )
    intent = _intent_for(payment, locked, customer)
    # Again, now that ours exists: a start with another method may have raced this one.
    _cancel_other_attempts(locked, method, actor=actor)
    with transaction.atomic():
        # And auto-renew may have claimed a charge since our attempt was committed, having
        # read it before its intent was recorded (so it did not cancel it): the customer is
        # not given a second way to pay while the card is charged.
        Renewal.objects.select_for_update(no_key=True).filter(pk=locked.pk).first()
        renewal_refuse_while_charging(locked.pk)
    return Checkout(
        payment=payment,
        client_secret=intent["client_secret"],
        publishable_key=settings.STRIPE_PUBLISHABLE_KEY,
    )


def payment_checkout(payment: Payment, *, actor: Actor) -> Checkout:
    """What a payment page needs for one payment, changing nothing else: opening a link (or
    a mail scanner following it) never cancels the customer's other attempts."""
    if payment.status not in Payment.OPEN_STATUSES or payment.renewal is None:
        raise DomainError(_("This payment is no longer waiting."), code="not_open")
    renewal_refuse_while_charging(payment.renewal_id)  # no form to pay while the card is charged
    if not payment.stripe_payment_intent_id:  # its intent was never recorded: open it now
        return payment_start(renewal=payment.renewal, method=payment.method, actor=actor)
    intent = stripe_gateway.payment_intent_retrieve(payment.stripe_payment_intent_id)
    return Checkout(
        payment=payment,
        client_secret=intent["client_secret"],
        publishable_key=settings.STRIPE_PUBLISHABLE_KEY,
    )


def _cancel_other_attempts(renewal: Renewal, method: str, *, actor: Actor) -> None:
    attempts_cancel_open(renewal_id=renewal.pk, actor=actor, keep_method=method)
    if Payment.objects.filter(renewal=renewal, status__in=("succeeded", "processing")).exists():
        raise DomainError(
            _("This renewal is already paid or its payment is in progress."), code="already_paid"
        )


def attempts_cancel_open(
    *, renewal_id: int, actor: Actor, keep_method: str | None = None, on_session_only: bool = False
) -> None:
    """Cancel at Stripe the renewal's payment attempts still open (other than ``keep_method``'s),
    once it is paid another way or closed, so a page left open cannot take a second payment.
    An attempt Stripe will not cancel any more (it succeeded meanwhile) is applied as it is."""
    others = Payment.objects.filter(renewal_id=renewal_id, status__in=Payment.OPEN_STATUSES)
    if keep_method:
        others = others.exclude(method=keep_method)
    if on_session_only:
        others = others.filter(off_session=False)
    for other in others.exclude(stripe_payment_intent_id=""):
        try:
            intent = stripe_gateway.payment_intent_cancel(
                other.stripe_payment_intent_id, idempotency_key=stripe_gateway.key_for(other, "cancel")
            )
        except stripe_gateway.ProviderError as exc:
            if exc.retryable:
                raise
            # Not cancellable any more (it succeeded or is processing): take its state as it is.
            intent = stripe_gateway.payment_intent_retrieve(other.stripe_payment_intent_id)
        try:
            payment_apply_intent(intent, observed_at=timezone.now(), actor=actor)
        except StaleState:
            pass


def _intent_for(payment: Payment, renewal: Renewal, customer: Customer):
    if payment.stripe_payment_intent_id:
        return stripe_gateway.payment_intent_retrieve(payment.stripe_payment_intent_id)
    method_type = STRIPE_METHOD_TYPES[payment.method]
    params = {
        "amount": to_stripe_minor_units(payment.amount, payment.currency),
        "currency": payment.currency.lower(),
        "customer": customer.stripe_customer_id,
        "payment_method_types": [method_type],
        "description": f"{renewal.plan.display_name('en')} — {renewal.line.iccid}",
        "metadata": {
            "payment_id": str(payment.pk),
            "renewal_id": str(renewal.pk),
            "line_iccid": renewal.line.iccid,
        },
    }
    if method_type == "wechat_pay":
        params["payment_method_options"] = {"wechat_pay": {"client": "web"}}
    # The key is our payment's id: a crash after Stripe answered but before we saved the id
    # is repaired by calling again, which returns the same intent instead of a second one.
    intent = stripe_gateway.payment_intent_create(
        params, idempotency_key=stripe_gateway.key_for(payment, "intent")
    )
    Payment.objects.filter(pk=payment.pk, stripe_payment_intent_id="").update(
        stripe_payment_intent_id=intent["id"]
    )
    payment.stripe_payment_intent_id = intent["id"]
    return intent


# --- Applying Stripe's state -------------------------------------------------------------------


def _our_status(intent) -> str | None:
    """Our payment status for a PaymentIntent's status, or None when it says nothing new
    (created, or waiting for the customer to choose or confirm a method)."""
    status = intent.get("status")
    if status == "succeeded":
        return Payment.Status.SUCCEEDED
    if status == "processing":
        return Payment.Status.PROCESSING
    if status == "requires_action":
        return Payment.Status.REQUIRES_ACTION
    if status == "canceled":
        return Payment.Status.CANCELLED
    if status == "requires_payment_method" and _get(intent, "last_payment_error"):
        return Payment.Status.FAILED
    return None


def _get(obj, key, default=None):
    try:
        value = obj[key]
    except (KeyError, TypeError, AttributeError):
        return default
    return default if value is None else value


def payment_for_intent(intent) -> Payment | None:
    found = Payment.objects.filter(stripe_payment_intent_id=intent["id"]).first()
    if found is None:
        payment_id = _get(_get(intent, "metadata", {}), "payment_id")
        if payment_id and str(payment_id).isdigit():
            found = Payment.objects.filter(
                pk=int(payment_id), stripe_payment_intent_id__in=["", intent["id"]]
            ).first()
    return found


class StaleState(Exception):
    """The news is older than the state we already applied: fetch the object again."""


def payment_apply_intent(
    intent, *, observed_at: datetime, actor: Actor, locked: Payment | None = None
) -> Payment | None:
    """Bring our payment in line with ``intent`` (a PaymentIntent object as Stripe sent or
    returned it, observed at ``observed_at``). Returns None for an intent that is not ours.
    Raises ``StaleState`` when a newer state was already applied. A caller that already holds
    the payment's locks in its transaction, as ``payment_lock`` takes them and with what it
    loads, passes that payment as ``locked`` (the charge of a saved card does)."""
    if locked is None:
        found = payment_for_intent(intent)
        if found is None:
            logger.info("PaymentIntent %s is not one of ours; ignored", intent["id"])
            return None
    with nullcontext() if locked is not None else transaction.atomic():
        payment = locked or payment_lock(found.pk)
        if payment.provider_synced_at and observed_at < payment.provider_synced_at:
            raise StaleState(intent["id"])
        mismatch = _mismatch(payment, intent)
        if mismatch:
            _park(payment, mismatch, actor=actor)
            return payment
        if not payment.stripe_payment_intent_id:  # only once it is known to be this payment's
            payment.stripe_payment_intent_id = intent["id"]
            payment.save(update_fields=["stripe_payment_intent_id"])
        new = _our_status(intent)
        updates = {"provider_synced_at": observed_at}
        if new is None or new == payment.status:
            if new == Payment.Status.FAILED:
                updates.update(_decline(intent))
            Payment.objects.filter(pk=payment.pk).update(**updates)
            return payment
        if not can_transition(Payment, payment.status, new):
            # A late "failed" or "processing" after "succeeded": the past does not overwrite.
            logger.info("payment %s: %s after %s ignored", payment.pk, new, payment.status)
            return payment
        # Why the payment moved: what Stripe said, so the entry can be matched with Stripe's logs.
        reason = f"Stripe reports {intent['id']} as {_get(intent, 'status', '?')}"
        if new == Payment.Status.SUCCEEDED:
            _mark_succeeded(payment, intent, actor=actor, updates=updates, reason=reason)
        else:
            if new == Payment.Status.FAILED:
                updates.update(_decline(intent))
            old = payment.status
            transition(payment, new, **updates)
            audit_record(
                actor=actor,
                action=f"payment.{new}",
                obj=payment,
                changes={"status": [old, new]},
                reason=reason,
            )
            if new == Payment.Status.FAILED and not payment.off_session and payment.renewal_id:
                from payments.dunning import case_note_declined_attempt

                case_note_declined_attempt(payment=payment, actor=actor)
    return payment


def _mismatch(payment: Payment, intent) -> str:
    currency = str(_get(intent, "currency", "")).upper()
    if currency != payment.currency:
        return gettext_noop("Stripe reports another currency than ours.")
    if from_stripe_minor_units(int(_get(intent, "amount", 0)), currency) != payment.amount:
        return gettext_noop("Stripe reports another amount than ours.")
    payment_id = _get(_get(intent, "metadata", {}), "payment_id")
    if payment_id and str(payment_id) != str(payment.pk):
        return gettext_noop("Stripe's payment points at another payment of ours.")
    return ""


def _park(payment: Payment, reason: str, *, actor: Actor) -> None:
    if payment.review_reason == reason:
        return
    Payment.objects.filter(pk=payment.pk).update(review_reason=reason)
    payment.review_reason = reason
    audit_record(actor=actor, action="payment.parked_for_review", obj=payment, reason=reason)
    logger.warning("payment %s parked for review: %s", payment.pk, reason)


def _decline(intent) -> dict:
    error = _get(intent, "last_payment_error", {})
    code = _get(error, "decline_code") or _get(error, "code") or ""
    return {"decline_code": str(code)[:64], "failure_message": customer_message_for(str(code))}


def _charge_details(intent) -> tuple[str, str | None, datetime | None]:
    """(charge id, our method or None, when the charge was made) from the intent's latest
    charge, whether Stripe sent it expanded or as an id."""
    charge = _get(intent, "latest_charge")
    if charge is None:
        return "", None, None
    if isinstance(charge, str):
        return charge, None, None
    details = _get(charge, "payment_method_details", {})
    kind = _get(details, "type")
    method = _TYPES.get(kind)
    wallet = _get(_get(_get(details, "card", {}), "wallet", {}), "type")
    if wallet in _WALLETS:
        method = _WALLETS[wallet]
    created = _get(charge, "created")
    return _get(charge, "id", ""), method, datetime.fromtimestamp(created, tz=UTC) if created else None


def _mark_succeeded(payment: Payment, intent, *, actor: Actor, updates: dict, reason: str) -> None:
    charge_id, method, charged_at = _charge_details(intent)
    renewal = payment.renewal
    # The renewal's other attempts that succeeded or are still open, in one query: none can
    # change meanwhile (the renewal is locked, and paid at the commit).
    others = (
        set(
            Payment.objects.filter(
                renewal=renewal, status__in=(Payment.Status.SUCCEEDED, *Payment.OPEN_STATUSES)
            )
            .exclude(pk=payment.pk)
            .values_list("status", flat=True)
        )
        if renewal is not None
        else set()
    )
    duplicate = Payment.Status.SUCCEEDED in others
    if duplicate:
        # Two attempts of one renewal both took money: the money is real (it gets a receipt),
        # the period is granted once. This one leaves the renewal, for Billing to refund.
        Payment.objects.filter(pk=payment.pk).update(renewal=None)
        payment.renewal = renewal = None
        _park(
            payment,
            gettext_noop("The renewal was already paid by another payment: refund this one."),
            actor=actor,
        )
    paid_at = charged_at or timezone.now()
    not_granted = None
    if renewal is not None:
        try:
            renewal_mark_paid(
                renewal_id=renewal.pk,
                actor=actor,
                paid_at=paid_at,
                reason=f"payment #{payment.pk} succeeded",
                locked=renewal,  # payment_lock (or the caller) holds line and renewal
            )
            from payments.dunning import cases_recover  # dunning builds on this module

            cases_recover(renewal_id=renewal.pk)
        except DomainError as exc:  # e.g. the renewal was cancelled meanwhile: money taken, no period
            not_granted = exc
    # Another attempt still open is cancelled after the commit; knowing there is none spares
    # most charges a broker round trip.
    others_open = renewal is not None and not others.isdisjoint(Payment.OPEN_STATUSES)
    # The receipt number last: its year's sequence row is locked from here to the commit, and
    # every charge of the year waits for it (the benchmarks saw most sessions queue there).
    old = payment.status
    transition(
        payment,
        Payment.Status.SUCCEEDED,
        paid_at=paid_at,
        receipt_number=receipt_number_next(paid_at=paid_at),
        stripe_charge_id=charge_id or payment.stripe_charge_id,
        method=method or payment.method,
        decline_code="",
        failure_message="",
        **updates,
    )
    audit_record(
        actor=actor,
        action="payment.succeeded",
        obj=payment,
        changes={"status": [old, "succeeded"], "receipt_number": payment.receipt_number},
        reason=reason,
    )
    if not_granted is not None:
        _park(
            payment, gettext_noop("Paid, but the renewal was closed: refund or grant by hand."), actor=actor
        )
        logger.warning(
            "payment %s succeeded but renewal %s not granted: %s", payment.pk, renewal.pk, not_granted
        )
    from payments.tasks import cancel_open_attempts, send_receipt  # tasks import services

    transaction.on_commit(lambda: send_receipt.delay(payment.pk), robust=True)
    if others_open:
        transaction.on_commit(lambda: cancel_open_attempts.delay(renewal.pk), robust=True)


def payment_refresh(payment: Payment, *, actor: Actor) -> Payment:
    """Fetch the payment's PaymentIntent from Stripe and apply it: what the return page and the
    reconciliation do, so a lost or late webhook never leaves a paid customer waiting."""
    if not payment.stripe_payment_intent_id:
        return payment
    observed_at = timezone.now()
    intent = stripe_gateway.payment_intent_retrieve(payment.stripe_payment_intent_id)
    try:
        payment_apply_intent(intent, observed_at=observed_at, actor=actor)
    except StaleState:
        pass  # someone applied a state fetched after ours: theirs stands
    payment.refresh_from_db()
    return payment


def renewal_checkout_start(
    *,
    line: SimLine,
    plan,
    currency: str,
    method: str,
    channel: str,
    idempotency_key: str,
    actor: Actor,
    reason: str = "",
) -> Checkout:
    """Renew a line to be paid on Stripe's fields (card, Alipay, WeChat Pay): the renewal waits
    for payment at today's price, and the same request sent twice opens one renewal and one
    PaymentIntent. Staff's payment links, the customer's own page and the public top-up."""
    renewal = renewal_request(
        line=line,
        plan=plan,
        currency=currency,
        channel=channel,
        idempotency_key=idempotency_key,
        actor=actor,
        reason=reason,
    )
    return payment_start(renewal=renewal, method=method, actor=actor)


def line_payment_link_create(
    *, line: SimLine, plan, currency: str, method: str, idempotency_key: str, actor: Actor
) -> Checkout:
    """Staff renew a line by sending the customer a link to pay."""
    return renewal_checkout_start(
        line=line,
        plan=plan,
        currency=currency,
        method=method,
        channel=Renewal.Channel.ADMIN,
        idempotency_key=idempotency_key,
        actor=actor,
    )
