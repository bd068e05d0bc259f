"""The one renewal service, used by every channel (admin, self-service, public top-up, partner
API, auto-renew): request a renewal, then mark it paid through ``renewal_mark_paid``, which
grants its period exactly once and hands it to activation after commit."""

from contextlib import nullcontext
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.audit import audit_record
from accounts.models import SimLine
from plans.models import Plan, Price, Renewal
from plans.periods import period_end
from reseller.actors import Actor, ActorKind
from reseller.errors import DomainError
from reseller.states import transition
from webhooks.events import webhook_line_renewed


class IdempotencyConflict(DomainError):
    code = "idempotency_conflict"


def idempotency_scope_for(actor: Actor, channel: str) -> str:
    """Keys are unique per caller: two partners may both send key "1". A payer without a login
    (the public top-up) has no account to scope by: their keys share the channel's scope, which
    is safe because those keys are random per page shown, never chosen by the payer."""
    if actor.kind == ActorKind.PARTNER:
        return f"partner:{actor.partner.pk}"
    if actor.kind == ActorKind.CUSTOMER and getattr(actor.user, "pk", None):
        return f"customer:{actor.user.pk}"
    return channel


def renewal_request(
    *,
    line: SimLine,
    plan: Plan,
    currency: str,
    channel: str,
    idempotency_key: str,
    actor: Actor,
    reason: str = "",
) -> Renewal:
    """Create the renewal waiting for payment, with the price and allowances of now. The same
    idempotency key from the same caller returns the same renewal, however often it is sent
    and however many requests race; reusing a key for another purchase is refused. ``reason``
    defaults to a purchase through ``channel``; auto-renew and staff say more."""
    if not idempotency_key or len(idempotency_key) > 255:
        raise DomainError(_("An idempotency key of 1 to 255 characters is required."), code="idempotency_key")
    scope = idempotency_scope_for(actor, channel)
    existing = Renewal.objects.filter(idempotency_scope=scope, idempotency_key=idempotency_key).first()
    if existing is not None:
        return _same_request(existing, line, plan, currency)

    _check_can_renew(line, plan)
    price = _price(plan, currency, channel)
    try:
        with transaction.atomic():
            renewal = Renewal.objects.create(
                line=line,
                plan=plan,
                channel=channel,
                price_amount=price.amount,
                currency=currency,
                data_mb=plan.data_mb,
                voice_minutes=plan.voice_minutes,
                sms=plan.sms,
                validity_days=plan.validity_days,
                idempotency_scope=scope,
                idempotency_key=idempotency_key,
                requested_by=actor.user if getattr(actor.user, "pk", None) else None,
            )
            audit_record(
                actor=actor,
                action="renewal.requested",
                obj=renewal,
                changes={"line": line.iccid, "plan": plan.code, "price": [str(price.amount), currency]},
                reason=reason or f"purchase through {channel}",
            )
    except IntegrityError:
        # Another request with the same key committed first: answer with its renewal.
        existing = Renewal.objects.get(idempotency_scope=scope, idempotency_key=idempotency_key)
        return _same_request(existing, line, plan, currency)
    return renewal


def _same_request(existing: Renewal, line: SimLine, plan: Plan, currency: str) -> Renewal:
    if (existing.line_id, existing.plan_id, existing.currency) != (line.pk, plan.pk, currency):
        raise IdempotencyConflict(_("This idempotency key was already used for another renewal."))
    return existing


def _check_can_renew(line: SimLine, plan: Plan) -> None:
    if line.status == SimLine.Status.TERMINATED:
        raise DomainError(_("This line is terminated and cannot be renewed."), code="line_terminated")
    if not plan.is_active:
        raise DomainError(_("This plan is no longer on sale."), code="plan_inactive")
    fits = plan.for_esim if line.kind == SimLine.Kind.ESIM else plan.for_physical
    if not fits:
        raise DomainError(_("This plan is not available for this kind of SIM."), code="plan_sim_kind")


def _price(plan: Plan, currency: str, channel: str) -> Price:
    price_channel = Price.Channel.PARTNER if channel == Renewal.Channel.PARTNER_API else Price.Channel.RETAIL
    price = Price.objects.filter(plan=plan, currency=currency, channel=price_channel).first()
    if price is None:
        raise DomainError(
            _("This plan has no price in %(currency)s.") % {"currency": currency}, code="no_price"
        )
    return price


def renewal_mark_paid(
    *,
    renewal_id: int,
    actor: Actor,
    reason: str,
    paid_at: datetime | None = None,
    locked: Renewal | None = None,
) -> Renewal:
    """The single "renewal paid" entry point (manual payments, Stripe, partner wallet); ``reason``
    names the payment that paid it. Grants
    the period once: it starts at the later of now and the end of the line's current period,
    so renewing early never loses days, and periods of one line never overlap. Calling it
    again for a paid renewal changes nothing. A caller already holding the line and renewal
    locks in its transaction (``payments.locks.payment_lock``) passes the renewal it locked,
    with its line, the line's customer and its plan loaded, as ``locked``: they are not read
    nor locked again."""
    from plans.tasks import activate_renewal  # tasks import services; the reverse is local

    now = timezone.now()
    paid_at = paid_at or now
    with nullcontext() if locked is not None else transaction.atomic():
        if locked is not None:
            renewal, line = locked, locked.line
        else:
            line, renewal = line_and_renewal_lock(renewal_id)
        if renewal.status in (*Renewal.GRANTED_STATUSES, Renewal.Status.REFUNDED):
            return renewal
        if renewal.status == Renewal.Status.CANCELLED:
            raise DomainError(
                _("This renewal was cancelled; the payment needs a staff review."), code="renewal_cancelled"
            )
        previous_expiry = line.expires_at
        covered = previous_expiry is not None and previous_expiry > now
        if renewal.plan.activation_policy == Plan.ActivationPolicy.FIRST_USE and not covered:
            # The period starts with the line's first usage (renewals_start_at_first_use).
            transition(renewal, Renewal.Status.PAID, paid_at=paid_at)
            # No expiry until first use: a past one would have the expiry job end it again.
            _extend_line(line, renewal, None, now)
            audit_record(
                actor=actor,
                action="renewal.paid",
                obj=renewal,
                changes={"period": "at first use", "line_expires_at": [previous_expiry, None]},
                reason=reason,
            )
        else:
            start = previous_expiry if covered else now
            end = period_end(start, renewal.validity_days, line.customer.timezone)
            transition(renewal, Renewal.Status.PAID, paid_at=paid_at, period_start=start, period_end=end)
            _extend_line(line, renewal, end, now)
            audit_record(
                actor=actor,
                action="renewal.paid",
                obj=renewal,
                changes={"period": [start, end], "line_expires_at": [previous_expiry, end]},
                reason=reason,
            )
        # robust: the payment is committed whatever the broker says; the sweep catches up.
        transaction.on_commit(lambda: activate_renewal.delay(renewal.pk), robust=True)
        webhook_line_renewed(renewal, line)
    return renewal


def line_and_renewal_lock(renewal_id: int, *, line_id: int | None = None) -> tuple[SimLine, Renewal]:
    """Lock a renewal's line, then the renewal, in the one lock order of the code; both come
    back with what ``renewal_mark_paid(locked=…)`` reads (the line's customer, the plan), and
    the renewal with its line. Call it inside the transaction that changes them."""
    if line_id is None:
        line_id = Renewal.objects.values_list("line_id", flat=True).get(pk=renewal_id)
    # Lock order, everywhere: line, then renewal. of=("self",): a FOR UPDATE over a join
    # would also lock the customer (and deadlock with writers that only share it).
    # no_key=True (FOR NO KEY UPDATE), here and for every row lock: we never change a
    # primary key, and a plain FOR UPDATE would also block inserts of rows that merely
    # reference the locked row (their foreign-key check takes KEY SHARE), which deadlocked
    # activation (renewal locked, inserting a notification for the line) against payment
    # confirmation (line locked, waiting for the renewal).
    line = (
        SimLine.objects.select_for_update(no_key=True, of=("self",))
        .select_related("customer")
        .get(pk=line_id)
    )
    renewal = (
        Renewal.objects.select_for_update(no_key=True, of=("self",)).select_related("plan").get(pk=renewal_id)
    )
    renewal.line = line  # its __str__ (in the audit entry) needs no query
    return line, renewal


def _extend_line(line: SimLine, renewal: Renewal, end: datetime | None, now: datetime) -> None:
    updates = {"expires_at": end, "plan_id": renewal.plan_id}
    if line.status in (SimLine.Status.INACTIVE, SimLine.Status.EXPIRED):
        transition(line, SimLine.Status.ACTIVE, **updates, activated_at=line.activated_at or now)
    else:
        SimLine.objects.filter(pk=line.pk).update(**updates)
        line.expires_at, line.plan_id = end, renewal.plan_id


def renewals_start_at_first_use(*, line_id: int, at: datetime, actor: Actor) -> list[Renewal]:
    """Start the periods of the line's paid first-use renewals at its first usage ``at``
    (stacked one after the other if several were bought in advance). Idempotent: a renewal
    whose period has started is not moved again."""
    with transaction.atomic():
        line = (
            SimLine.objects.select_for_update(no_key=True, of=("self",))
            .select_related("customer")
            .get(pk=line_id)
        )
        waiting = list(
            Renewal.objects.select_for_update(no_key=True)
            .filter(line=line, status__in=Renewal.GRANTED_STATUSES, period_start__isnull=True)
            .order_by("paid_at", "pk")
        )
        now = timezone.now()
        for renewal in waiting:
            # Never before it was paid (a late or factory-test record) nor in the future (a
            # carrier clock ahead): the customer gets every day they paid for.
            start = min(max(at, renewal.paid_at), now)
            if line.expires_at and line.expires_at > start:
                start = line.expires_at
            end = period_end(start, renewal.validity_days, line.customer.timezone)
            Renewal.objects.filter(pk=renewal.pk, period_start__isnull=True).update(
                period_start=start, period_end=end
            )
            renewal.period_start, renewal.period_end = start, end
            previous_expiry = line.expires_at
            _extend_line(line, renewal, end, now)
            audit_record(
                actor=actor,
                action="renewal.period_started",
                obj=renewal,
                changes={"period": [start, end], "line_expires_at": [previous_expiry, end]},
                reason="first usage of the line",
            )
    return waiting


def renewal_cancel(*, renewal: Renewal, actor: Actor, reason: str) -> Renewal:
    """Abandon a renewal that was never paid (a customer gave up, a partner withdrew it).
    Refused while its saved card is being charged: the money would be taken for a renewal
    that grants nothing."""
    from payments.checkout import renewal_refuse_while_charging  # payments builds on plans

    with transaction.atomic():
        renewal = Renewal.objects.select_for_update(no_key=True).get(pk=renewal.pk)
        renewal_refuse_while_charging(renewal.pk)
        transition(renewal, Renewal.Status.CANCELLED)
        audit_record(actor=actor, action="renewal.cancelled", obj=renewal, reason=reason)
        # Its payment pages, if any are still open, must not take money for it any more.
        from payments.tasks import cancel_open_attempts  # payments builds on plans: local import

        transaction.on_commit(lambda: cancel_open_attempts.delay(renewal.pk), robust=True)
    return renewal
