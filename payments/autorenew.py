"""Auto-renew: a line renews itself before its paid period ends, by charging the customer's
saved card off-session (the customer is not there).

One renewal per (line, period): its idempotency key is the line and the expiry it extends,
so the job running twice, on two workers at once, or after the customer renewed by hand (the
expiry then moved: the line is no longer due) never makes a second one. The charge itself
runs after its attempt is committed, with no transaction open and no row locked; while that
attempt is in flight, every other way of paying the renewal is refused, and the answer is
applied afterwards under the payment locks (see ``renewal_charge_off_session``).
"""

import logging
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.audit import audit_record
from accounts.models import Customer, SimLine
from payments import stripe_gateway
from payments.checkout import (
    StaleState,
    attempt_create,
    attempt_in_flight,
    attempts_cancel_open,
    payment_apply_intent,
    stripe_customer_ensure,
)
from payments.models import Payment, PaymentMethod, SavedPaymentMethod
from plans.models import Plan, Renewal
from plans.renewals import line_and_renewal_lock, renewal_request
from reseller.actors import Actor
from reseller.errors import DomainError
from reseller.faults import fault_point
from reseller.money import to_stripe_minor_units

logger = logging.getLogger(__name__)

SYSTEM = Actor.system("auto-renew")
SCOPE = "auto_renew"
#: Due lines read per round trip while queueing them.
QUEUE_CHUNK = 2000
#: A queued task not run by then is dropped: the job, every 30 minutes, queues its line again.
QUEUED_TASK_EXPIRES = 45 * 60  # seconds


def line_auto_renew_set(
    *,
    line: SimLine,
    enabled: bool,
    actor: Actor,
    reason: str,
    plan: Plan | None = None,
    method: SavedPaymentMethod | None = None,
) -> SimLine:
    """Turn auto-renew on (with the plan and one of the customer's saved cards) or off."""
    if not enabled:
        SimLine.objects.filter(pk=line.pk).update(auto_renew=False)
        audit_record(
            actor=actor,
            action="line.auto_renew_off",
            obj=line,
            changes={"auto_renew": [line.auto_renew, False]},
            reason=reason,
        )
        line.refresh_from_db()
        return line
    if plan is None or not plan.is_active or not plan.is_auto_renewable:
        raise DomainError(_("Choose a plan that can renew automatically."), code="plan")
    if not (plan.for_esim if line.kind == SimLine.Kind.ESIM else plan.for_physical):
        raise DomainError(_("This plan is not available for this kind of SIM."), code="plan_sim_kind")
    if method is None or method.customer_id != line.customer_id or method.removed_at is not None:
        raise DomainError(_("Choose one of the customer's saved cards."), code="method")
    if method.kind != "card":
        raise DomainError(
            _("Only a saved card can be charged automatically; Alipay and WeChat Pay need you each time."),
            code="method",
        )
    SimLine.objects.filter(pk=line.pk).update(
        auto_renew=True, auto_renew_plan=plan, auto_renew_payment_method=method
    )
    audit_record(
        actor=actor,
        action="line.auto_renew_on",
        obj=line,
        changes={"auto_renew": [line.auto_renew, True], "plan": plan.code, "method": str(method)},
        reason=reason,
    )
    line.refresh_from_db()
    return line


def lines_due(*, now: datetime | None = None):
    """Active lines with auto-renew whose paid period ends within the window (the partial
    index ``line_autorenew_due_idx`` serves it)."""
    now = now or timezone.now()
    horizon = now + timedelta(hours=settings.AUTO_RENEW_WINDOW_HOURS)
    return SimLine.objects.filter(
        auto_renew=True, status=SimLine.Status.ACTIVE, expires_at__gt=now, expires_at__lte=horizon
    ).order_by("expires_at")


def auto_renew_run(*, now: datetime | None = None, limit: int = 1000) -> int:
    """Renew up to ``limit`` due lines in this process, one after the other (the shell, the
    tests; beat runs ``auto_renew_queue`` instead). Returns how many charges succeeded."""
    renewed = 0
    for line_id, expires_at in list(lines_due(now=now).values_list("pk", "expires_at")[:limit]):
        try:
            payment = auto_renew_line(line_id=line_id, expires_at=expires_at, now=now)
        except Exception:  # one line's trouble must not stop the others
            logger.exception("auto-renew of line %s failed", line_id)
            continue
        renewed += bool(payment and payment.status == Payment.Status.SUCCEEDED)
    return renewed


def auto_renew_queue(*, now: datetime | None = None) -> int:
    """The periodic job: queue one ``auto_renew_line`` task per due line, so the workers'
    charges overlap (each waits for the provider) instead of running one after the other.
    Writes nothing: each task reads committed rows. The due lines are read through a cursor,
    in chunks, so a backlog of a million lines is queued in bounded memory. Returns how many
    tasks were queued."""
    from payments.tasks import auto_renew_line_task  # tasks import services

    queued = 0
    due = lines_due(now=now).values_list("pk", "expires_at").iterator(chunk_size=QUEUE_CHUNK)
    for line_id, expires_at in due:
        # A line still due at the next run is queued again: a copy left unrun by then is
        # dropped by the worker rather than piling up behind a backlog (the task is
        # idempotent either way).
        auto_renew_line_task.apply_async((line_id, expires_at.isoformat()), expires=QUEUED_TASK_EXPIRES)
        queued += 1
    return queued


def auto_renew_line(
    *, line_id: int, expires_at: datetime | None = None, now: datetime | None = None
) -> Payment | None:
    """Renew one due line for the period after its current expiry, once, and charge it. A
    line no longer due (renewed meanwhile, turned off) or whose expiry is no longer
    ``expires_at`` (the one it was queued for) is left alone, so a task run twice never buys
    the next period. A renewal already being followed up after a decline is left to the
    retries."""
    line = (
        lines_due(now=now)
        .select_related("customer", "auto_renew_plan", "auto_renew_payment_method")
        .filter(pk=line_id)
        .first()
    )
    if line is None or (expires_at is not None and line.expires_at != expires_at):
        return None
    renewal = renewal_request(
        line=line,
        plan=line.auto_renew_plan,
        currency=line.customer.currency,
        channel=Renewal.Channel.AUTO_RENEW,
        idempotency_key=f"line:{line.pk}:after:{line.expires_at.isoformat()}",
        actor=SYSTEM,
    )
    if renewal.status != Renewal.Status.PENDING_PAYMENT or renewal.failed_payment_cases.exists():
        return None  # paid, closed, or declined once already: retries are the follow-up's business
    method = line.auto_renew_payment_method
    if method is None or method.removed_at is not None:
        from payments.dunning import case_open_without_charge

        case_open_without_charge(renewal=renewal, reason="no_payment_method", actor=SYSTEM)
        return None
    return renewal_charge_off_session(renewal=renewal, method=method, actor=SYSTEM)


#: What ``_attempt_claim`` answers when the customer's own payment pages must be closed first.
_PAGES_OPEN = object()
_PAYABLE = (Renewal.Status.PENDING_PAYMENT, Renewal.Status.FAILED)


@dataclass(frozen=True)
class _Claim:
    payment: Payment
    #: The attempt of an earlier try that got no answer (its worker was lost), charged again.
    retry: bool


def renewal_charge_off_session(
    *, renewal: Renewal, method: SavedPaymentMethod, actor: Actor
) -> Payment | None:
    """Charge a renewal on a saved card without the customer. Returns the attempt's payment,
    or None when there is nothing to charge (paid meanwhile, or the customer is paying it
    right now on a payment page).

    The charge runs with no transaction open and no row locked: the provider takes hundreds of
    milliseconds, during which a lock would hold a database connection and make every other
    writer of the line wait. The committed attempt stands in for the lock: while it is in
    flight (``checkout.attempt_in_flight``) every other way of paying the renewal is refused
    (``checkout.renewal_refuse_while_charging``) and other auto-renew workers leave it alone.
    The answer is then applied in one short transaction under ``payment_lock``'s locks."""
    line = renewal.line
    stripe_customer_ensure(line.customer)
    claim = _attempt_claim(renewal, actor=actor)
    if claim is _PAGES_OPEN:
        # The customer's own payment pages for this renewal are closed first.
        attempts_cancel_open(renewal_id=renewal.pk, actor=actor, on_session_only=True)
        claim = _attempt_claim(renewal, actor=actor, pages_closed=True)
    if claim is None:
        return None
    payment = claim.payment
    # An attempt charged again is too old to count as in flight, so nothing else would keep
    # a manual payment out during its charge: that rare charge runs under the locks instead.
    with transaction.atomic() if claim.retry else nullcontext():
        if claim.retry:
            payable = _lock_attempt(payment.pk, renewal).renewal.status in _PAYABLE
        else:
            payable = Renewal.objects.filter(pk=renewal.pk, status__in=_PAYABLE).exists()
        if not payable:
            # Paid or closed another way since the claim: this attempt is not charged.
            Payment.objects.filter(
                pk=payment.pk, status=Payment.Status.PENDING, stripe_payment_intent_id=""
            ).update(status=Payment.Status.CANCELLED)
            return None
        fault_point("autorenew.before_charge")
        intent = _charge(payment, renewal, method, line.customer)
        fault_point("autorenew.after_charge")
        with transaction.atomic():
            payment = _lock_attempt(payment.pk, renewal)
            try:
                payment_apply_intent(intent, observed_at=timezone.now(), actor=actor, locked=payment)
            except StaleState:
                payment.refresh_from_db()
    if payment.status != Payment.Status.SUCCEEDED:
        from payments.dunning import case_record_failure

        case_record_failure(payment=payment, actor=actor)
    return payment


def _lock_attempt(payment_id: int, renewal: Renewal) -> Payment:
    """``payment_lock`` for an attempt whose renewal and line are known: the same locks in the
    same order (line, renewal, payment), loading what it loads, without its id look-ups."""
    line, locked = line_and_renewal_lock(renewal.pk, line_id=renewal.line_id)
    payment = Payment.objects.select_for_update(no_key=True, of=("self",)).get(pk=payment_id)
    payment.renewal, payment.customer = locked, line.customer
    return payment


def _attempt_claim(renewal: Renewal, *, actor: Actor, pages_closed: bool = False):
    """The off-session attempt to charge, committed before the charge so a crash after it is
    charged again under the same idempotency key; None when there is nothing to charge (or
    another worker is charging it), ``_PAGES_OPEN`` when the customer's payment pages must
    be closed first. Taken under the renewal's row lock, as every other way of paying it
    checks for it (``renewal_refuse_while_charging``)."""
    now = timezone.now()
    with transaction.atomic():
        locked = Renewal.objects.select_for_update(no_key=True).get(pk=renewal.pk)
        locked.line = renewal.line
        if locked.status not in _PAYABLE:
            return None
        attempts = list(Payment.objects.filter(renewal=locked))  # one query for every check below
        if not pages_closed and any(
            not a.off_session and a.status in Payment.OPEN_STATUSES and a.stripe_payment_intent_id
            for a in attempts
        ):
            return _PAGES_OPEN
        if any(a.status in ("processing", "requires_action", "succeeded") for a in attempts):
            return None
        if any(attempt_in_flight(a, now=now) for a in attempts):
            return None  # another worker is charging it right now
        # An attempt whose charge never got an answer (Stripe unreachable, a worker killed)
        # is charged again under its own idempotency key: Stripe answers with the same intent.
        unanswered = [
            a
            for a in attempts
            if a.off_session and a.status == Payment.Status.PENDING and not a.stripe_payment_intent_id
        ]
        if unanswered:
            return _Claim(max(unanswered, key=lambda a: a.pk), retry=True)
        payment = attempt_create(renewal=locked, method=PaymentMethod.CARD, off_session=True)
        audit_record(
            actor=actor,
            action="payment.started",
            obj=payment,
            changes={"off_session": True},
            reason="automatic renewal with the saved card",
        )
        return _Claim(payment, retry=False)


def _charge(payment: Payment, renewal: Renewal, method: SavedPaymentMethod, customer: Customer) -> dict:
    params = {
        "amount": to_stripe_minor_units(payment.amount, payment.currency),
        "currency": payment.currency.lower(),
        "customer": customer.stripe_customer_id,
        "payment_method": method.stripe_payment_method_id,
        "payment_method_types": ["card"],
        "off_session": True,
        "confirm": True,
        "description": f"{renewal.plan.code} — {renewal.line.iccid} (auto-renew)",
        "metadata": {
            "payment_id": str(payment.pk),
            "renewal_id": str(renewal.pk),
            "line_iccid": renewal.line.iccid,
        },
    }
    try:
        return stripe_gateway.payment_intent_create(
            params, idempotency_key=stripe_gateway.key_for(payment, "intent")
        )
    except stripe_gateway.ProviderError as exc:
        if exc.payment_intent:  # declined or needs authentication: the intent says why
            return exc.payment_intent
        raise
