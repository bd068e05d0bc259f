"""Following up a failed payment by hand: retry the charge now, send the customer the link to
pay another way, write a note, record how a contact with the customer went. Billing's queue in
the admin and the API (staff tokens and the owning partner) call these same functions; closing
a case (write-off, cancel) and the automatic schedule are in ``payments.dunning``."""

from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.audit import audit_record
from notifications.models import NotificationLog
from payments.dunning import case_cancel, case_lock_open, case_retry
from payments.links import renewal_pay_url
from payments.models import FailedPaymentCase, Payment
from plans.models import Renewal
from reseller.actors import Actor
from reseller.errors import DomainError

#: Longest note kept on a case (the API refuses longer ones with a field error).
NOTE_MAX_LENGTH = 2000


class ContactOutcome(models.TextChoices):
    """How a call or message to the customer went. Every outcome is written in the case's
    notes and the audit trail; the customer declining the renewal also cancels it."""

    NO_ANSWER = "no_answer", gettext_lazy("No answer")
    MESSAGE_LEFT = "message_left", gettext_lazy("Message left")
    WILL_PAY = "will_pay", gettext_lazy("The customer will pay")
    WRONG_CONTACT = "wrong_contact", gettext_lazy("The contact details are wrong")
    RENEWAL_DECLINED = "renewal_declined", gettext_lazy("The customer no longer wants the renewal")


class LinkAlreadySent(DomainError):
    code = "link_already_sent"
    http_status = 409
    default_message = gettext_lazy(
        "A link to pay was already sent to this customer today; it stays valid for 7 days."
    )


@dataclass(frozen=True)
class PaymentLinkSent:
    url: str
    messages: list[NotificationLog]


def case_retry_now(*, case: FailedPaymentCase, actor: Actor) -> Payment | None:
    """Charge the case's renewal on the line's saved card now, whatever the schedule says.
    Refused on a closed case, and when there is no card left to charge (the customer has to
    pay with the link then). Returns the attempt, or None when nothing was charged because
    the renewal was settled meanwhile (the case is then closed)."""
    with transaction.atomic():
        locked = case_lock_open(case.pk)
        method = locked.renewal.line.auto_renew_payment_method
        unpaid = locked.renewal.status not in Renewal.GRANTED_STATUSES
        if unpaid and (method is None or method.removed_at is not None):
            raise DomainError(
                _("The line has no saved card to charge: send the customer a link to pay another way."),
                code="no_saved_card",
            )
    return case_retry(case_id=case.pk, actor=actor)


@transaction.atomic
def case_payment_link_send(
    *, case: FailedPaymentCase, actor: Actor, now: datetime | None = None
) -> PaymentLinkSent:
    """E-mail and text the customer the link where they pay the renewal with the method they
    choose: the message the first decline sent, with the latest reason. At most once a day
    per case (a double click or an impatient agent must not flood the customer)."""
    now = now or timezone.now()
    case = case_lock_open(case.pk)
    customer = case.renewal.line.customer
    if not (customer.email or customer.phone):
        raise DomainError(
            _("The customer has neither an e-mail address nor a phone number: give them the link yourself."),
            code="no_contact",
        )
    url = renewal_pay_url(case.renewal)
    from notifications.services import notify_payment_failed

    latest = (
        Payment.objects.filter(renewal_id=case.renewal_id, status=Payment.Status.FAILED)
        .order_by("-id")
        .first()
    )
    sent = notify_payment_failed(
        payment=latest or case.payment,
        pay_url=url,
        next_retry_at=case.next_retry_at,
        occasion=f"link={timezone.localdate(now, UTC).isoformat()}",
    )
    if not sent:
        raise LinkAlreadySent()
    FailedPaymentCase.objects.filter(pk=case.pk).update(customer_notified_at=now)
    channels = sorted(message.channel for message in sent)
    audit_record(
        actor=actor,
        action="dunning.link_sent",
        obj=case,
        changes={"channels": channels},
        reason=f"link to pay renewal #{case.renewal_id} sent to the customer ({', '.join(channels)})",
    )
    return PaymentLinkSent(url=url, messages=sent)


@transaction.atomic
def case_note_add(
    *, case: FailedPaymentCase, text: str, actor: Actor, now: datetime | None = None
) -> FailedPaymentCase:
    """Add a line to the case's notes, dated and signed; earlier notes are never rewritten.
    Closed cases take notes too (the customer calls back after a write-off)."""
    text = text.strip()
    if not text:
        raise DomainError(_("Write the note."), code="note_empty")
    if len(text) > NOTE_MAX_LENGTH:
        raise DomainError(
            _("A note has at most %(max)s characters.") % {"max": NOTE_MAX_LENGTH}, code="note_too_long"
        )
    locked = FailedPaymentCase.objects.select_for_update(no_key=True).get(pk=case.pk)
    _append_note(locked, text, actor, now)
    audit_record(actor=actor, action="dunning.note_added", obj=locked, changes={"note": text}, reason=text)
    return locked


@transaction.atomic
def case_contact_record(
    *, case: FailedPaymentCase, outcome: str, note: str = "", actor: Actor, now: datetime | None = None
) -> FailedPaymentCase:
    """Record how a contact with the customer went, in the notes and the audit trail. A
    customer who no longer wants the renewal closes the case and cancels the renewal."""
    if outcome not in ContactOutcome.values:
        raise DomainError(_("Choose one of the outcomes offered."), code="outcome_unknown")
    note = note.strip()
    locked = case_lock_open(case.pk)
    _append_note(locked, f"[{outcome}] {note}".strip(), actor, now)
    audit_record(
        actor=actor,
        action="dunning.contact_recorded",
        obj=locked,
        changes={"outcome": outcome, "note": note},
        reason=note or f"contact with the customer: {outcome}",
    )
    if outcome == ContactOutcome.RENEWAL_DECLINED:
        case_cancel(case=locked, actor=actor, note=note or "the customer no longer wants the renewal")
        locked.refresh_from_db()
    return locked


def _append_note(case: FailedPaymentCase, text: str, actor: Actor, now: datetime | None) -> None:
    stamp = timezone.localtime(now or timezone.now(), UTC).strftime("%Y-%m-%d %H:%M UTC")
    line = f"{stamp}, {actor.label}: {text}"
    case.notes = f"{case.notes.rstrip()}\n{line}" if case.notes.strip() else line
    case.save(update_fields=["notes"])
