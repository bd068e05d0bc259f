"""Customer details: what customers change alone, what staff correct, and what customers may
only ask staff to change.

- A customer changes the spelling of their name, their postal address, language and time
  zone directly (``customer_profile_update``); a new contact e-mail or phone number waits for
  the code sent to it (``accounts.contact_verification``).
- The name on their identity document, a line's number (MSISDN), its SIM (ICCID) and its owner
  change only through a request (``correction_request_create``) that staff approve or reject
  with a comment (``correction_request_decide``); the customer sees the outcome on their page
  and by e-mail.
- Staff correct details directly with a reason code and a comment (``details_correct``).

Every change is a correction row with its before and after, and an audit entry.
"""

from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.audit import audit_record
from accounts.models import Correction, Customer, SimLine
from reseller.actors import Actor
from reseller.errors import DomainError
from reseller.states import transition
from reseller.validators import normalize_msisdn, validate_e164, validate_iccid

#: What a customer changes alone, at once.
SELF_SERVICE_FIELDS = (
    "full_name",
    "address_line1",
    "address_line2",
    "postal_code",
    "city",
    "country",
    "language",
    "timezone",
)

#: What staff correct on a customer's page (who owns the customer and which login reaches it
#: are a Manager's business, in the admin, not a correction).
STAFF_FIELDS = (*SELF_SERVICE_FIELDS, "legal_name", "email", "phone", "currency")

#: What a customer may only ask for: field -> (label, correction kind, about a line?).
REQUESTABLE = {
    "legal_name": (gettext_lazy("Name on identity document"), Correction.Kind.DETAILS, False),
    "msisdn": (gettext_lazy("Phone number of the line"), Correction.Kind.DETAILS, True),
    "iccid": (gettext_lazy("SIM card number (ICCID)"), Correction.Kind.SIM_SWAP, True),
    "owner": (gettext_lazy("Owner of the line (their e-mail)"), Correction.Kind.OWNER_MOVE, True),
}

DECIDE_PERMISSION = "accounts.change_customer"


def customer_profile_update(*, customer: Customer, changes: dict, actor: Actor) -> dict:
    """The customer's own edit. Returns the fields that changed as ``{field: [before, after]}``;
    nothing is written (nor audited) when nothing changed."""
    refused = set(changes) - set(SELF_SERVICE_FIELDS)
    if refused:
        raise DomainError(_("Ask us to change this for you."), code="protected_field")
    return _write(
        customer, changes, actor=actor, action="customer.profile_updated", reason="changed by the customer"
    )


def details_correct(*, customer: Customer, changes: dict, reason: str, comment: str, actor: Actor):
    """Staff correct a customer's details: applied at once, kept as a correction row with the
    reason code and comment. Returns the correction, or None when nothing changed."""
    from accounts.corrections import check_reason_and_comment

    check_reason_and_comment(reason, comment)
    refused = set(changes) - set(STAFF_FIELDS)
    if refused:
        raise DomainError(
            _("These details are not corrected here: %(fields)s")
            % {"fields": ", ".join(sorted(_field_label(name) for name in refused))}
        )
    with transaction.atomic():
        diff = _write(
            customer, changes, actor=actor, action="customer.corrected", reason=f"{reason}: {comment}"
        )
        if not diff:
            return None
        return Correction.objects.create(
            customer=customer,
            kind=Correction.Kind.DETAILS,
            status=Correction.Status.APPLIED,
            field=",".join(diff)[:64],
            before={name: values[0] for name, values in diff.items()},
            after={name: values[1] for name, values in diff.items()},
            reason=reason,
            comment=comment.strip(),
            channel=actor.channel,
            requested_by=_user(actor),
            decided_by=_user(actor),
            decided_at=timezone.now(),
        )


def _field_label(name: str) -> str:
    """What staff read for a field: its verbose name, or the name itself for a field the
    model does not have (a typo in an API payload)."""
    try:
        return str(Customer._meta.get_field(name).verbose_name)
    except FieldDoesNotExist:
        return name


def _write(customer: Customer, changes: dict, *, actor: Actor, action: str, reason: str) -> dict:
    with transaction.atomic():
        locked = Customer.objects.select_for_update(no_key=True).get(pk=customer.pk)
        diff = {}
        for name, value in changes.items():
            value = value.strip() if isinstance(value, str) else value
            if getattr(locked, name) != value:
                diff[name] = [getattr(locked, name), value]
                setattr(locked, name, value)
        if not diff:
            return {}
        try:
            others = [f.name for f in Customer._meta.concrete_fields if f.name not in diff]
            locked.full_clean(exclude=others, validate_unique=False)
        except ValidationError as error:
            raise DomainError(" ".join(error.messages), code="invalid") from error
        Customer.objects.filter(pk=locked.pk).update(**{name: values[1] for name, values in diff.items()})
        audit_record(actor=actor, action=action, obj=locked, changes=diff, reason=reason)
    for name, values in diff.items():
        setattr(customer, name, values[1])
    return diff


# --- Requests ------------------------------------------------------------------------------------


def correction_request_create(
    *, customer: Customer, field: str, value: str, comment: str, actor: Actor, line: SimLine | None = None
) -> Correction:
    """A customer asks for a change they may not make alone. Another customer's line answers
    "not found"; one open request per field and line at a time."""
    if field not in REQUESTABLE:
        raise DomainError(_("Choose what should be changed."), code="field")
    _label, kind, about_line = REQUESTABLE[field]
    if about_line and (line is None or line.customer_id != customer.pk):
        raise DomainError(_("This line was not found."), code="not_found")
    if not about_line:
        line = None
    value = _requested_value(field, value, line)
    current = _current(customer, line, field)
    if value == current:
        raise DomainError(_("This is already the current value."), code="unchanged")
    with transaction.atomic():
        Customer.objects.select_for_update(no_key=True).get(pk=customer.pk)  # one request at a time
        if Correction.objects.filter(
            customer=customer, line=line, field=field, status=Correction.Status.REQUESTED
        ).exists():
            raise DomainError(_("You already asked for this change; we will answer soon."), code="pending")
        correction = Correction.objects.create(
            customer=customer,
            line=line,
            kind=kind,
            field=field,
            before={field: current},
            after={field: value},
            reason=Correction.Reason.CUSTOMER_REQUEST,
            comment=comment.strip(),
            channel=actor.channel,
            requested_by=_user(actor),
        )
        audit_record(
            actor=actor,
            action="correction.requested",
            obj=correction,
            changes={field: [current, value]},
            reason=f"customer request: {comment.strip() or '-'}",
        )
    return correction


def _requested_value(field: str, value: str, line: SimLine | None) -> str:
    value = (value or "").strip()
    if not value:
        raise DomainError(_("Enter the new value."), code="value")
    try:
        if field == "msisdn":
            value = normalize_msisdn(value)
            validate_e164(value)
        elif field == "iccid":
            if line.kind != SimLine.Kind.PHYSICAL:
                raise DomainError(
                    _("An eSIM is re-issued, not given another number: ask us to re-issue it."), code="esim"
                )
            value = value.replace(" ", "")
            validate_iccid(value)
        elif field == "owner":
            value = value.lower()
            validate_email(value)
        elif len(value) > 200:
            raise DomainError(_("Enter at most 200 characters."), code="value")
    except ValidationError as error:
        raise DomainError(" ".join(error.messages), code="value") from error
    return value


def _current(customer: Customer, line: SimLine | None, field: str) -> str:
    if field == "owner":
        return (customer.email or "").lower()
    holder = line if field in ("msisdn", "iccid") else customer
    return getattr(holder, field) or ""


def correction_request_decide(
    *, correction: Correction, approve: bool, comment: str, actor: Actor
) -> Correction:
    """Staff approve (apply) or reject a customer's request, saying why either way; the
    customer is told by e-mail and sees it on their page."""
    from accounts.corrections import check_decider, lock_undecided

    check_decider(
        correction,
        actor,
        permission=DECIDE_PERMISSION,
        refused=_("You may not decide customers' requests."),
        four_eyes=_("Someone other than the requester must decide this request."),
    )
    if not comment.strip():
        raise DomainError(_("Say why, for the customer: they will read it."), code="comment")
    with transaction.atomic():
        locked = lock_undecided(correction, _("This request was already decided."))
        if approve:
            _carry_out(locked)
        transition(
            locked,
            Correction.Status.APPLIED if approve else Correction.Status.REJECTED,
            decided_by=actor.user,
            decided_at=timezone.now(),
            decision_comment=comment.strip(),
        )
        audit_record(
            actor=actor,
            action="correction.applied" if approve else "correction.rejected",
            obj=locked,
            changes={"before": locked.before, "after": locked.after},
            reason=comment.strip(),
        )
        from accounts.tasks import send_correction_outcome

        transaction.on_commit(lambda: send_correction_outcome.delay(locked.pk), robust=True)
    return locked


def _carry_out(correction: Correction) -> None:
    field, value = correction.field, correction.after[correction.field]
    if field == "legal_name":
        Customer.objects.filter(pk=correction.customer_id).update(legal_name=value)
        return
    line = SimLine.objects.select_for_update(no_key=True).get(pk=correction.line_id)
    if line.customer_id != correction.customer_id:
        raise DomainError(_("This line has moved to another customer since the request."), code="moved")
    if field == "owner":
        owners = list(Customer.objects.filter(email__iexact=value).exclude(pk=line.customer_id)[:2])
        if len(owners) != 1:
            raise DomainError(
                _("No single customer has this e-mail: move the line from its page instead."), code="owner"
            )
        # Auto-renew stops: the saved card it charged belongs to the previous owner.
        SimLine.objects.filter(pk=line.pk).update(
            customer=owners[0], auto_renew=False, auto_renew_payment_method=None
        )
        Correction.objects.filter(pk=correction.pk).update(after={"owner": value, "customer": owners[0].pk})
        correction.after = {"owner": value, "customer": owners[0].pk}
        return
    try:
        with transaction.atomic():
            SimLine.objects.filter(pk=line.pk).update(**{field: value})
    except IntegrityError as error:
        raise DomainError(_("This number already belongs to another line."), code="taken") from error


def _user(actor: Actor):
    return actor.user if getattr(actor.user, "pk", None) else None
