"""Balance and expiry adjustments: credit or debit data, minutes or SMS, extend or shorten a
line's expiry, each with a reason, recorded as a correction (a ledger row the balances add up,
never an in-place edit) and audited.

Four eyes: an adjustment within the small limits (settings) is applied at once by the agent
who asks; a larger one waits for someone with the approval permission other than the one who
asked. A partner (through the API) has no limits of its own: its adjustments always wait for
the reseller's staff. A wrong adjustment is undone by a compensating one that names it.
"""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.audit import audit_record
from accounts.models import Correction, SimLine
from reseller.actors import Actor, ActorKind
from reseller.errors import DomainError
from reseller.states import transition

APPROVE_PERMISSION = "accounts.approve_correction"


def adjustment_request(
    *,
    line: SimLine,
    reason: str,
    comment: str,
    actor: Actor,
    data_mb: int = 0,
    voice_minutes: int = 0,
    sms: int = 0,
    expiry: timedelta = timedelta(0),
    reverses: Correction | None = None,
) -> Correction:
    """Ask for an adjustment of a line's balance (MB, minutes, SMS) or expiry. Applied at
    once within the four-eyes limits, else left for approval; a partner's always waits."""
    check_reason_and_comment(reason, comment)
    balance = any((data_mb, voice_minutes, sms))
    if balance == bool(expiry):
        message = _("Adjust either the balance (data, minutes, SMS) or the expiry, one at a time.")
        raise DomainError(message, code="adjustment")
    if expiry and line.expires_at is None:
        raise DomainError(_("This line has no expiry to adjust."), code="no_expiry")
    kind = Correction.Kind.BALANCE if balance else Correction.Kind.EXPIRY
    with transaction.atomic():
        correction = Correction.objects.create(
            customer_id=line.customer_id,
            line=line,
            kind=kind,
            data_mb_delta=data_mb,
            voice_minutes_delta=voice_minutes,
            sms_delta=sms,
            expiry_delta=expiry,
            reason=reason,
            comment=comment.strip(),
            channel=actor.channel,
            requested_by=actor.user if getattr(actor.user, "pk", None) else None,
            reverses=reverses,
        )
        audit_record(
            actor=actor,
            action="correction.requested",
            obj=correction,
            changes=_deltas(correction),
            reason=f"{reason}: {comment}".strip(),
        )
        if actor.kind != ActorKind.PARTNER and within_limits(correction):
            _apply(correction, actor, decision="within the limits")
    return correction


def within_limits(correction: Correction) -> bool:
    """Small enough for the agent alone (four eyes above)."""
    return (
        abs(correction.data_mb_delta) <= settings.CORRECTION_SELF_APPROVE_MAX_DATA_MB
        and abs(correction.voice_minutes_delta) <= settings.CORRECTION_SELF_APPROVE_MAX_MINUTES
        and abs(correction.sms_delta) <= settings.CORRECTION_SELF_APPROVE_MAX_SMS
        and abs(correction.expiry_delta) <= timedelta(days=settings.CORRECTION_SELF_APPROVE_MAX_DAYS)
    )


def correction_decide(*, correction: Correction, approve: bool, actor: Actor, comment: str) -> Correction:
    """Approve (apply) or reject an adjustment waiting for approval: by someone allowed to,
    never the agent who asked; a rejection says why and changes nothing else. A customer's
    request (details, SIM, owner) is decided by ``accounts.details``' rules."""
    if correction.kind not in (Correction.Kind.BALANCE, Correction.Kind.EXPIRY):
        from accounts.details import correction_request_decide

        return correction_request_decide(correction=correction, approve=approve, comment=comment, actor=actor)
    check_decider(
        correction,
        actor,
        permission=APPROVE_PERMISSION,
        refused=_("Only a manager can decide this adjustment."),
        four_eyes=_("Someone other than the requester must decide this adjustment."),
    )
    if not approve and not comment.strip():
        raise DomainError(_("Say why the adjustment is rejected."), code="comment")
    with transaction.atomic():
        locked = lock_undecided(correction, _("This adjustment was already decided."))
        if approve:
            _apply(locked, actor, decision=comment)
        else:
            transition(
                locked,
                Correction.Status.REJECTED,
                decided_by=actor.user,
                decided_at=timezone.now(),
                decision_comment=comment.strip(),
            )
            audit_record(actor=actor, action="correction.rejected", obj=locked, reason=comment.strip())
    return locked


def check_decider(correction: Correction, actor: Actor, *, permission: str, refused, four_eyes) -> None:
    """Four eyes: only someone with ``permission`` decides, and never the one who asked."""
    if actor.user is None or not actor.user.has_perm(permission):
        raise DomainError(refused, code="permission")
    if correction.requested_by_id and correction.requested_by_id == actor.user.pk:
        raise DomainError(four_eyes, code="four_eyes")


def lock_undecided(correction: Correction, already_decided) -> Correction:
    """The correction, row-locked, still waiting for its decision (two deciders: one wins)."""
    locked = Correction.objects.select_for_update(no_key=True).get(pk=correction.pk)
    if locked.status != Correction.Status.REQUESTED:
        raise DomainError(already_decided, code="decided")
    return locked


def correction_reverse(*, correction: Correction, actor: Actor, comment: str) -> Correction:
    """Undo an applied adjustment with a compensating one (the original stays in the ledger)."""
    if correction.status != Correction.Status.APPLIED or correction.kind not in (
        Correction.Kind.BALANCE,
        Correction.Kind.EXPIRY,
    ):
        message = _("Only an applied balance or expiry adjustment can be reversed.")
        raise DomainError(message, code="not_applied")
    if Correction.objects.filter(reverses=correction).exists():
        raise DomainError(_("This adjustment was already reversed."), code="reversed")
    return adjustment_request(
        line=correction.line,
        reason=Correction.Reason.REVERSAL,
        comment=comment,
        actor=actor,
        data_mb=-correction.data_mb_delta,
        voice_minutes=-correction.voice_minutes_delta,
        sms=-correction.sms_delta,
        expiry=-correction.expiry_delta,
        reverses=correction,
    )


def _apply(correction: Correction, actor: Actor, *, decision: str) -> None:
    now = timezone.now()
    if correction.kind == Correction.Kind.EXPIRY:
        line = SimLine.objects.select_for_update(no_key=True, of=("self",)).get(pk=correction.line_id)
        before = line.expires_at
        SimLine.objects.filter(pk=line.pk).update(expires_at=before + correction.expiry_delta)
        correction.before = {"expires_at": before.isoformat()}
        correction.after = {"expires_at": (before + correction.expiry_delta).isoformat()}
        Correction.objects.filter(pk=correction.pk).update(before=correction.before, after=correction.after)
    transition(
        correction,
        Correction.Status.APPLIED,
        decided_by=actor.user if getattr(actor.user, "pk", None) else None,
        decided_at=now,
        decision_comment=decision,
    )
    audit_record(
        actor=actor,
        action="correction.applied",
        obj=correction,
        changes={**_deltas(correction), "before": correction.before, "after": correction.after},
        reason=decision or correction.comment,
    )


def _deltas(correction: Correction) -> dict:
    return {
        "data_mb": correction.data_mb_delta,
        "voice_minutes": correction.voice_minutes_delta,
        "sms": correction.sms_delta,
        "expiry": str(correction.expiry_delta),
    }


# --- SIM swaps and owner moves -------------------------------------------------------------------


def sim_swap(
    *,
    line: SimLine,
    reason: str,
    comment: str,
    actor: Actor,
    new_iccid: str = "",
    new_activation_code: str = "",
) -> Correction:
    """A lost or broken physical SIM replaced by a new card (a new ICCID), or an eSIM
    re-issued (a new activation code, and the new profile's ICCID if it has one). The line
    stays the same row: its plan, balance, renewals and history go with it."""
    from django.core.exceptions import ValidationError
    from django.db import IntegrityError

    from reseller.validators import validate_activation_code, validate_iccid

    check_reason_and_comment(reason, comment)
    new_iccid = new_iccid.strip()
    new_activation_code = new_activation_code.strip()
    if line.kind == SimLine.Kind.PHYSICAL and (not new_iccid or new_activation_code):
        raise DomainError(
            _("A physical SIM swap needs the new card's ICCID (and no activation code)."), code="iccid"
        )
    if line.kind == SimLine.Kind.ESIM and not new_activation_code:
        raise DomainError(_("Re-issuing an eSIM needs its new activation code."), code="activation_code")
    try:
        if new_iccid:
            validate_iccid(new_iccid)
        if new_activation_code:
            validate_activation_code(new_activation_code)
    except ValidationError as error:
        raise DomainError(" ".join(error.messages), code="invalid") from error
    if new_iccid == line.iccid:
        raise DomainError(_("This is the line's current ICCID."), code="iccid")
    try:
        with transaction.atomic():
            locked = SimLine.objects.select_for_update(no_key=True).get(pk=line.pk)
            before = {"iccid": locked.iccid, "activation_code": locked.activation_code}
            after = {
                "iccid": new_iccid or locked.iccid,
                "activation_code": new_activation_code or locked.activation_code,
            }
            SimLine.objects.filter(pk=locked.pk).update(**after)
            correction = _applied(
                locked, Correction.Kind.SIM_SWAP, reason, comment, actor, before=before, after=after
            )
    except IntegrityError as error:
        raise DomainError(_("This ICCID already belongs to another line."), code="iccid_taken") from error
    line.refresh_from_db()
    return correction


def line_move(*, line: SimLine, to_customer, reason: str, comment: str, actor: Actor) -> Correction:
    """Give a line to another customer (a SIM sold on, a family account split). Its history
    stays with the line; auto-renew is turned off, because the saved card it charged belongs
    to the previous owner."""
    check_reason_and_comment(reason, comment)
    if to_customer.pk == line.customer_id:
        raise DomainError(_("The line already belongs to this customer."), code="same_customer")
    with transaction.atomic():
        locked = SimLine.objects.select_for_update(no_key=True).get(pk=line.pk)
        before = {"customer": locked.customer_id, "auto_renew": locked.auto_renew}
        after = {"customer": to_customer.pk, "auto_renew": False}
        SimLine.objects.filter(pk=locked.pk).update(
            customer=to_customer, auto_renew=False, auto_renew_payment_method=None
        )
        correction = _applied(
            locked, Correction.Kind.OWNER_MOVE, reason, comment, actor, before=before, after=after
        )
    line.refresh_from_db()
    return correction


def check_reason_and_comment(reason: str, comment: str) -> None:
    if reason not in Correction.Reason.values:
        raise DomainError(_("Choose a reason for the correction."), code="reason")
    if not comment.strip():
        raise DomainError(_("Say in a comment what happened."), code="comment")


def balance_adjustment_apply(
    *, line: SimLine, data_mb: int, reason: str, comment: str, actor: Actor
) -> Correction:
    """A balance adjustment that follows from a decision already taken elsewhere (a refund
    Billing made with "deduct the refunded share of data"): applied at once, outside the
    four-eyes queue, and recorded and audited like any other."""
    return _applied(
        line,
        Correction.Kind.BALANCE,
        reason,
        comment,
        actor,
        action="correction.applied",
        data_mb_delta=data_mb,
    )


def _applied(
    line, kind, reason, comment, actor, *, before=None, after=None, action: str = "", **deltas
) -> Correction:
    user = actor.user if getattr(actor.user, "pk", None) else None
    correction = Correction.objects.create(
        customer_id=line.customer_id,
        line=line,
        kind=kind,
        status=Correction.Status.APPLIED,
        before=before or {},
        after=after or {},
        reason=reason,
        comment=comment.strip(),
        channel=actor.channel,
        requested_by=user,
        decided_by=user,
        decided_at=timezone.now(),
        **deltas,
    )
    audit_record(
        actor=actor,
        action=action or f"correction.{kind}",
        obj=correction,
        changes={"before": before, "after": after, **deltas} if before or after else dict(deltas),
        reason=f"{reason}: {comment.strip()}",
    )
    return correction
