"""Following up failed payments (dunning): a case per unpaid renewal, the customer told at the
first failure with a link to pay another way, automatic retries on a schedule, a staff queue,
and at the end of the grace period auto-renew turned off and the line left to expire at the
end of what was paid (a paid period is never cut for a later unpaid one)."""

import logging
import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.audit import audit_record
from accounts.models import SimLine
from payments.checkout import AutomaticChargeInFlight
from payments.declines import customer_message_for
from payments.links import renewal_pay_url
from payments.models import FailedPaymentCase, Payment
from plans.models import Renewal
from plans.renewals import renewal_cancel
from reseller.actors import Actor
from reseller.errors import DomainError
from reseller.states import transition
from webhooks.events import webhook_renewal_failed

logger = logging.getLogger(__name__)

SYSTEM = Actor.system("payment follow-up")
Status = FailedPaymentCase.Status

#: Declines a retry on the same card cannot fix: the card is gone or the bank said never.
HARD_DECLINES = {
    "lost_card",
    "stolen_card",
    "pickup_card",
    "fraudulent",
    "restricted_card",
    "merchant_blacklist",
    "invalid_account",
    "revocation_of_all_authorizations",
    "revocation_of_authorization",
    "stop_payment_order",
}
#: Declines only the customer can fix (a new card, or confirming with their bank): retrying
#: the same card automatically would fail the same way.
NEEDS_THE_CUSTOMER = {"expired_card", "incorrect_number", "incorrect_cvc", "authentication_required"}


def _open_case(
    renewal: Renewal, payment: Payment, code: str, now: datetime
) -> tuple[FailedPaymentCase, bool]:
    case = (
        FailedPaymentCase.objects.select_for_update(no_key=True)
        .filter(renewal=renewal, status=Status.OPEN)
        .first()
    )
    if case is not None:
        return case, False
    expiry = renewal.line.expires_at or now
    try:
        with transaction.atomic():
            return (
                FailedPaymentCase.objects.create(
                    renewal=renewal,
                    payment=payment,
                    attempts=0,
                    last_decline_code=code,
                    grace_ends_at=max(expiry, now) + timedelta(hours=settings.DUNNING_GRACE_HOURS),
                ),
                True,
            )
    except IntegrityError:  # opened by another worker at the same moment
        return FailedPaymentCase.objects.select_for_update(no_key=True).get(
            renewal=renewal, status=Status.OPEN
        ), False


def case_record_failure(*, payment: Payment, actor: Actor, now: datetime | None = None) -> FailedPaymentCase:
    """A charge of a renewal failed: open its case or add the attempt to it, schedule the
    next retry, and tell the customer at the first failure."""
    now = now or timezone.now()
    code = payment.decline_code or "processing_error"
    with transaction.atomic():
        renewal = (
            Renewal.objects.select_for_update(no_key=True).select_related("line").get(pk=payment.renewal_id)
        )
        case, opened = _open_case(renewal, payment, code, now)
        case.attempts += 1
        case.last_decline_code = code
        case.next_retry_at = _next_retry(case, code)
        case.save(update_fields=["attempts", "last_decline_code", "next_retry_at"])
        audit_record(
            actor=actor,
            action="dunning.opened" if opened else "dunning.attempt_failed",
            obj=case,
            changes={"decline_code": code, "attempts": case.attempts, "next_retry_at": case.next_retry_at},
            reason=f"payment #{payment.pk} declined ({code})",
        )
        webhook_renewal_failed(case, payment)
        if opened:
            _tell_customer(case, payment, now)
    return case


def case_note_declined_attempt(*, payment: Payment, actor: Actor) -> None:
    """The customer tried to pay a renewal under follow-up themselves (the link) and was
    declined: the attempt is recorded on its case; the retry schedule stays as it was."""
    from django.db.models import F

    updated = FailedPaymentCase.objects.filter(renewal_id=payment.renewal_id, status=Status.OPEN).update(
        attempts=F("attempts") + 1, last_decline_code=payment.decline_code or "processing_error"
    )
    if updated:
        case = FailedPaymentCase.objects.get(renewal_id=payment.renewal_id, status=Status.OPEN)
        audit_record(
            actor=actor,
            action="dunning.attempt_failed",
            obj=case,
            changes={"payment": payment.pk},
            reason=f"the customer's own payment #{payment.pk} was declined ({payment.decline_code or '?'})",
        )


def case_open_without_charge(*, renewal: Renewal, reason: str, actor: Actor) -> FailedPaymentCase | None:
    """Auto-renew could not even try (no saved card): the customer is asked to pay by link."""
    from payments.checkout import attempt_create

    payment = attempt_create(
        renewal=renewal,
        method="card",
        off_session=True,
        status=Payment.Status.FAILED,
        decline_code=reason,
        failure_message=customer_message_for(reason),
    )
    return case_record_failure(payment=payment, actor=actor)


def _next_retry(case: FailedPaymentCase, code: str) -> datetime | None:
    if code in HARD_DECLINES or code in NEEDS_THE_CUSTOMER:
        return None
    schedule = settings.DUNNING_RETRY_DAYS
    if case.attempts > len(schedule):
        return None
    opened = case.opened_at or timezone.now()
    at = opened + timedelta(days=schedule[case.attempts - 1])
    return at if case.grace_ends_at is None or at <= case.grace_ends_at else None


def _tell_customer(case: FailedPaymentCase, payment: Payment, now: datetime) -> None:
    from notifications.services import notify_payment_failed

    notify_payment_failed(
        payment=payment, pay_url=renewal_pay_url(case.renewal), next_retry_at=case.next_retry_at
    )
    FailedPaymentCase.objects.filter(pk=case.pk).update(customer_notified_at=now)


# --- Retries -------------------------------------------------------------------------------------


def cases_due(*, now: datetime | None = None):
    now = now or timezone.now()
    return FailedPaymentCase.objects.filter(status=Status.OPEN, next_retry_at__lte=now).order_by(
        "next_retry_at"
    )


def retries_run(*, now: datetime | None = None, limit: int = 500) -> int:
    """The periodic job: retry every case due. Returns how many were recovered."""
    recovered = 0
    for case_id in list(cases_due(now=now).values_list("pk", flat=True)[:limit]):
        payment = case_retry(case_id=case_id, actor=SYSTEM)
        recovered += bool(payment and payment.status == Payment.Status.SUCCEEDED)
    return recovered


def case_retry(*, case_id: int, actor: Actor) -> Payment | None:
    """Charge the case's renewal again on the line's saved card, unless it is settled:
    paid by any means, or its period covered by another renewal (then it is cancelled)."""
    from payments.autorenew import renewal_charge_off_session

    case = FailedPaymentCase.objects.select_related("renewal__line").get(pk=case_id)
    if case.status != Status.OPEN:
        return None
    renewal, line = case.renewal, case.renewal.line
    if renewal.status in Renewal.GRANTED_STATUSES:
        cases_recover(renewal_id=renewal.pk)
        return None
    if _covered_by_another_renewal(renewal):
        _close(case, Status.CANCELLED, actor, note="covered by another renewal")
        renewal_cancel(renewal=renewal, actor=actor, reason="covered by another renewal")
        return None
    method = line.auto_renew_payment_method
    if method is None or method.removed_at is not None:
        FailedPaymentCase.objects.filter(pk=case.pk).update(next_retry_at=None)
        return None
    FailedPaymentCase.objects.filter(pk=case.pk).update(next_retry_at=None)  # this try is under way
    return renewal_charge_off_session(renewal=renewal, method=method, actor=actor)


def _covered_by_another_renewal(renewal: Renewal) -> bool:
    """Someone renewed the line by hand since: its period no longer needs this renewal."""
    return (
        Renewal.objects.filter(
            line_id=renewal.line_id, status__in=Renewal.GRANTED_STATUSES, paid_at__gt=renewal.created_at
        )
        .exclude(pk=renewal.pk)
        .exists()
    )


def cases_recover(*, renewal_id: int) -> None:
    """The renewal is paid (by a retry, the link, cash…): its open case is recovered."""
    for case in FailedPaymentCase.objects.filter(renewal_id=renewal_id, status=Status.OPEN):
        _close(case, Status.RECOVERED, SYSTEM, note="the renewal was paid")


def _close(case: FailedPaymentCase, status: str, actor: Actor, *, note: str) -> None:
    try:
        transition(case, status, closed_at=timezone.now(), next_retry_at=None)
    except DomainError:
        return  # closed by someone else meanwhile
    audit_record(
        actor=actor, action=f"dunning.{status}", obj=case, changes={"status": ["open", status]}, reason=note
    )


# --- End of grace ----------------------------------------------------------------------------------


def grace_end_run(*, now: datetime | None = None) -> int:
    """Cases whose grace period is over: auto-renew off, the customer told, the renewal
    cancelled; the line keeps what was paid and expires at its end. Returns how many."""
    now = now or timezone.now()
    ended = 0
    for case in FailedPaymentCase.objects.filter(status=Status.OPEN, grace_ends_at__lte=now).select_related(
        "renewal__line"
    ):
        try:
            _grace_end(case)
        except AutomaticChargeInFlight:
            # A last retry is charging the card right now: it recovers the case, or the next
            # run ends it.
            logger.info("grace end of case %s waits for the charge in flight", case.pk)
            continue
        ended += 1
    return ended


def _grace_end(case: FailedPaymentCase) -> None:
    """One case's end of grace, in one transaction: nothing of it stays when it is refused."""
    from notifications.services import notify_auto_renew_ended

    with transaction.atomic():
        line = SimLine.objects.select_for_update(no_key=True, of=("self",)).get(pk=case.renewal.line_id)
        if line.auto_renew:
            SimLine.objects.filter(pk=line.pk).update(auto_renew=False)
            audit_record(
                actor=SYSTEM,
                action="line.auto_renew_off",
                obj=line,
                changes={"auto_renew": [True, False]},
                reason="payment not recovered",
            )
        _close(case, Status.WRITTEN_OFF, SYSTEM, note="grace period over")
        if case.renewal.status in (Renewal.Status.PENDING_PAYMENT, Renewal.Status.FAILED):
            renewal_cancel(renewal=case.renewal, actor=SYSTEM, reason="payment not recovered")
        notify_auto_renew_ended(line=line)


# --- Staff actions and figures ----------------------------------------------------------------------


class CaseClosed(DomainError):
    """Staff and partners act on open cases only: a recovered, written-off or cancelled
    case is settled (409 in the API)."""

    code = "case_closed"
    http_status = 409
    default_message = _("This case is closed: it was recovered, written off or cancelled.")


def case_lock_open(case_id: int) -> FailedPaymentCase:
    """The case, locked until the caller's transaction ends, once it is sure to be open: a
    retry, the link or an agent may have closed it a moment ago."""
    case = (
        FailedPaymentCase.objects.select_for_update(no_key=True, of=("self",))
        .select_related("renewal__line__customer", "payment")
        .get(pk=case_id)
    )
    if case.status != Status.OPEN:
        raise CaseClosed()
    return case


@transaction.atomic
def case_write_off(*, case: FailedPaymentCase, actor: Actor, note: str) -> None:
    if not note.strip():
        raise DomainError(_("Say why the case is written off."), code="note")
    _close(case_lock_open(case.pk), Status.WRITTEN_OFF, actor, note=note)


@transaction.atomic
def case_cancel(*, case: FailedPaymentCase, actor: Actor, note: str) -> None:
    """The customer no longer wants the renewal: close the case and cancel the renewal."""
    if not note.strip():
        raise DomainError(_("Say why the case is cancelled."), code="note")
    case = case_lock_open(case.pk)
    _close(case, Status.CANCELLED, actor, note=note)
    if case.renewal.status in (Renewal.Status.PENDING_PAYMENT, Renewal.Status.FAILED):
        renewal_cancel(renewal=case.renewal, actor=actor, reason=note)


@dataclass(frozen=True)
class DunningFigures:
    opened: int
    recovered: int
    recovery_rate: Decimal | None
    recovered_amounts: dict[str, Decimal]
    median_hours_to_recovery: Decimal | None


def dunning_figures(*, since: datetime) -> DunningFigures:
    """Recovery rate, amount recovered per currency and median time to recovery of the cases
    opened since ``since``."""
    cases = FailedPaymentCase.objects.filter(opened_at__gte=since)
    opened = cases.count()
    recovered = cases.filter(status=Status.RECOVERED)
    amounts = {
        row["renewal__currency"]: row["total"]
        for row in recovered.values("renewal__currency")
        .annotate(total=Sum("renewal__price_amount"))
        .order_by()
    }
    hours = [
        Decimal((closed - opened_at).total_seconds() / 3600).quantize(Decimal("0.1"))
        for opened_at, closed in recovered.values_list("opened_at", "closed_at")
        if closed
    ]
    return DunningFigures(
        opened=opened,
        recovered=recovered.count(),
        recovery_rate=(Decimal(recovered.count()) / opened).quantize(Decimal("0.001")) if opened else None,
        recovered_amounts=amounts,
        median_hours_to_recovery=statistics.median(hours) if hours else None,
    )
