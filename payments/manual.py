"""Payments taken by staff outside Stripe: cash at the counter, bank transfers."""

from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.audit import audit_record
from accounts.models import SimLine
from payments.checkout import renewal_refuse_while_charging
from payments.models import MANUAL_METHODS, Payment, PaymentMethod
from payments.receipts import receipt_number_next
from plans.models import Renewal
from plans.renewals import line_and_renewal_lock, renewal_mark_paid, renewal_request
from reseller.actors import Actor
from reseller.errors import DomainError
from reseller.money import quantize
from reseller.states import can_transition, transition


def payment_record_manual(
    *,
    renewal: Renewal,
    method: str,
    amount: Decimal,
    currency: str,
    reference: str,
    actor: Actor,
    paid_at: datetime | None = None,
) -> Payment:
    """Record cash or a bank transfer that pays a renewal in full, and grant its period.
    A renewal is paid once: a second payment for it is refused (and the database refuses a
    second succeeded payment too)."""
    if method not in MANUAL_METHODS:
        raise DomainError(_("Only cash and bank transfers are recorded by hand."), code="method")
    if currency != renewal.currency:
        raise DomainError(
            _("This renewal is priced in %(currency)s.") % {"currency": renewal.currency}, code="currency"
        )
    if not isinstance(amount, Decimal) or quantize(amount, currency) != quantize(
        renewal.price_amount, currency
    ):
        raise DomainError(
            _("The amount must be the renewal's price, %(amount)s %(currency)s.")
            % {"amount": quantize(renewal.price_amount, currency), "currency": currency},
            code="amount",
        )
    if method == PaymentMethod.BANK_TRANSFER and not reference.strip():
        raise DomainError(_("Enter the bank transfer's reference."), code="reference")
    paid_at = paid_at or timezone.now()
    with transaction.atomic():
        # Lock order: line, then renewal (as renewal_mark_paid does).
        line, locked = line_and_renewal_lock(renewal.pk, line_id=renewal.line_id)
        if not can_transition(Renewal, locked.status, Renewal.Status.PAID):
            raise DomainError(_("This renewal is already paid or closed."), code="already_paid")
        renewal_refuse_while_charging(locked.pk)
        # Pending until its receipt number, taken last (below): the year's sequence row is
        # locked from the number to the commit, and every payment of the year waits for it.
        payment = Payment.objects.create(
            renewal=locked,
            customer_id=line.customer_id,
            amount=quantize(amount, currency),
            currency=currency,
            method=method,
            manual_reference=reference.strip(),
            recorded_by=actor.user if getattr(actor.user, "pk", None) else None,
            paid_at=paid_at,
        )
        renewal_mark_paid(
            renewal_id=locked.pk,
            actor=actor,
            paid_at=paid_at,
            reason=f"payment #{payment.pk} recorded",
            locked=locked,  # the line and renewal locked above, with what it reads
        )
        from payments.dunning import cases_recover

        cases_recover(renewal_id=locked.pk)
        # A payment page left open must not take the money a second time.
        from payments.tasks import cancel_open_attempts

        transaction.on_commit(lambda: cancel_open_attempts.delay(locked.pk), robust=True)
        transition(payment, Payment.Status.SUCCEEDED, receipt_number=receipt_number_next(paid_at=paid_at))
        audit_record(
            actor=actor,
            action="payment.recorded",
            obj=payment,
            changes={"amount": [None, str(payment.amount)], "currency": currency, "method": method},
            reason=f"{method} payment received by staff; reference: {reference.strip() or '-'}",
        )
    return payment


def line_renew_with_manual_payment(
    *,
    line: SimLine,
    plan,
    currency: str,
    method: str,
    amount: Decimal,
    reference: str,
    idempotency_key: str,
    actor: Actor,
) -> Payment:
    """The admin's "Renew this line": request the renewal and record its payment in one
    transaction, so a refused payment leaves no renewal behind. Submitting the same form
    twice (same key) records one payment and answers with it."""
    with transaction.atomic():
        renewal = renewal_request(
            line=line,
            plan=plan,
            currency=currency,
            channel=Renewal.Channel.ADMIN,
            idempotency_key=idempotency_key,
            actor=actor,
        )
        if renewal.status != Renewal.Status.PENDING_PAYMENT:
            existing = renewal.payments.filter(status=Payment.Status.SUCCEEDED).first()
            if existing is not None:
                return existing
        return payment_record_manual(
            renewal=renewal, method=method, amount=amount, currency=currency, reference=reference, actor=actor
        )
