"""Telling customers about their lines: renewal confirmations, expiry reminders, low-data
warnings, delayed activations, failed renewal payments and the end of auto-renew after them,
by e-mail and SMS, in their language and time zone.

Every message is a NotificationLog row written inside the caller's transaction and sent only
after it commits (DESIGN.md §3.8). The row's unique ``dedupe_key`` makes each message once per
line, period and channel (once per renewal and channel for renewal messages), however often a
job runs and however many run at once. Sending is at least once: a worker that dies after the
provider accepted a message but before recording it leaves it to be sent again."""

import logging
import zoneinfo
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from email.utils import make_msgid, parseaddr
from functools import partial
from typing import Any, Literal

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.db.models import F, Q, QuerySet
from django.utils import formats, timezone, translation
from django.utils.translation import pgettext

from accounts.models import Customer, SimLine
from notifications.models import NotificationLog, dedupe_key
from notifications.rendering import render_email, render_sms
from notifications.sms import get_sms_backend
from payments.declines import customer_message_for, decline_message
from payments.models import Payment
from plans.balances import line_balances
from plans.models import Renewal
from plans.periods import days_left, wall_time_left
from reseller.actors import Actor
from reseller.money import format_money
from webhooks.events import webhook_line_notices

logger = logging.getLogger(__name__)

Kind = NotificationLog.Kind
Channel = NotificationLog.Channel
Status = NotificationLog.Status

#: Where each kind goes. E-mail whenever the customer has an address; SMS, which costs money
#: and interrupts, only when the news is urgent or is the confirmation of a payment.
CHANNELS_BY_KIND: dict[str, tuple[str, ...]] = {
    Kind.RENEWAL_ACTIVE: (Channel.EMAIL, Channel.SMS),
    Kind.EXPIRY_7D: (Channel.EMAIL,),
    Kind.EXPIRY_3D: (Channel.EMAIL,),
    Kind.EXPIRY_1D: (Channel.EMAIL, Channel.SMS),
    Kind.EXPIRED: (Channel.EMAIL, Channel.SMS),
    Kind.LOW_DATA_80: (Channel.EMAIL, Channel.SMS),
    Kind.ACTIVATION_DELAYED: (Channel.EMAIL,),
    # The customer has something to do (pay another way, confirm with the bank) before the
    # line stops: urgent.
    Kind.PAYMENT_FAILED: (Channel.EMAIL, Channel.SMS),
    Kind.AUTO_RENEW_ENDED: (Channel.EMAIL,),
}

#: (days before expiry, reminder), smallest first. The reminder due is the first whose
#: threshold covers the time left, so a job that was down sends the one that is still true
#: (2 days left: the 3-day reminder, never a stale 7-day one).
EXPIRY_REMINDERS = ((1, Kind.EXPIRY_1D), (3, Kind.EXPIRY_3D), (7, Kind.EXPIRY_7D))
LOW_DATA_PERCENT = 80
BATCH_SIZE = 500
#: How long one worker owns a message it is sending; past it, the send is presumed lost.
SEND_CLAIM_SECONDS = 300

SendOutcome = Literal["sent", "failed", "skipped"]


@dataclass(frozen=True)
class Notice:
    """One piece of news for one customer, before it becomes a message per channel."""

    kind: str
    customer: Customer
    line: SimLine | None = None
    renewal: Renewal | None = None
    period_end: datetime | None = None
    context: dict[str, Any] = field(default_factory=dict)
    #: Part of the dedupe key of a message sent again on purpose (see models.dedupe_key).
    occasion: str = ""

    def targets(self) -> list[tuple[str, str, str]]:
        """(channel, recipient, dedupe key) for each channel this customer can be reached on."""
        addresses = {Channel.EMAIL: self.customer.email, Channel.SMS: self.customer.phone}
        return [
            (
                channel,
                addresses[channel],
                dedupe_key(
                    kind=self.kind,
                    channel=channel,
                    line_id=getattr(self.line, "pk", None),
                    renewal_id=getattr(self.renewal, "pk", None),
                    period_end=self.period_end,
                    occasion=self.occasion,
                ),
            )
            for channel in CHANNELS_BY_KIND[self.kind]
            if addresses[channel]
        ]


def notify(
    *,
    kind: str,
    customer: Customer,
    line: SimLine | None = None,
    renewal: Renewal | None = None,
    period_end: datetime | None = None,
    context: dict[str, Any] | None = None,
) -> list[NotificationLog]:
    """Write the messages of one notice (one per channel) in the caller's transaction and send
    them after it commits. A message already written (same dedupe key) is not written again:
    the returned list holds only the new ones."""
    if line is None and renewal is not None:
        line = renewal.line
    notice = Notice(
        kind=kind,
        customer=customer,
        line=line,
        renewal=renewal,
        period_end=period_end if period_end is not None else getattr(renewal, "period_end", None),
        context=context or {},
    )
    return _write([notice])


def notify_renewal_active(renewal: Renewal) -> list[NotificationLog]:
    """The renewal is active on the network: tell the customer until when the line runs."""
    renewal = _renewals_with_lines(Renewal.objects.filter(pk=renewal.pk)).get()
    return _write([_renewal_notice(Kind.RENEWAL_ACTIVE, renewal)])


def notify_activations_delayed(renewal_ids: Iterable[int]) -> list[NotificationLog]:
    """Paid renewals not active yet (the activation sweep retries them): tell each customer,
    once per renewal, that the payment is safe and the activation is being retried. Renewals
    already active by now are skipped. Constant queries whatever the number of renewals."""
    renewals = _renewals_with_lines(
        Renewal.objects.filter(
            pk__in=list(renewal_ids), status__in=[Renewal.Status.PAID, Renewal.Status.ACTIVATING]
        )
    )
    return _write([_renewal_notice(Kind.ACTIVATION_DELAYED, renewal) for renewal in renewals])


#: The decline code of a charge the customer's bank wants to confirm with them (3-D Secure):
#: the money is there, only the customer can let it through.
AUTHENTICATION_REQUIRED = "authentication_required"


def notify_payment_failed(
    *, payment: Payment, pay_url: str, next_retry_at: datetime | None = None, occasion: str = ""
) -> list[NotificationLog]:
    """A payment for a renewal failed (an automatic charge for auto-renew, or a retry): tell
    the customer why, in their words, how to pay another way or confirm with their bank
    (``pay_url``, absolute: it is opened from a mailbox or a phone), that the line works until
    its current expiry, and when we try again (``next_retry_at``; None: no retry is promised).
    Once per renewal and channel, however many attempts fail; written in the caller's
    transaction and sent after it commits. The payment is read as stored, so its decline
    must be saved first. With an ``occasion`` (staff sending the link again), once per
    renewal, occasion and channel."""
    if not pay_url.startswith(("https://", "http://")):
        raise ValueError(f"pay_url must be an absolute URL, not {pay_url!r}")
    payment = Payment.objects.select_related(
        "customer", "renewal__plan", "renewal__line__plan", "renewal__line__auto_renew_plan"
    ).get(pk=payment.pk)
    renewal = payment.renewal
    if renewal is None:
        raise ValueError(f"payment {payment.pk} pays no renewal: there is no renewal to tell about")
    notice = Notice(
        kind=Kind.PAYMENT_FAILED,
        customer=payment.customer,
        line=renewal.line,
        renewal=renewal,
        # What the message dates: the end of the period already paid, which the line keeps.
        period_end=renewal.line.expires_at,
        context={
            "amount": payment.amount,
            "currency": payment.currency,
            # The msgid as stored; translated for the reader in _context.
            "decline_message": payment.failure_message or customer_message_for(payment.decline_code),
            "authentication_required": payment.decline_code == AUTHENTICATION_REQUIRED,
            "pay_url": pay_url,
            "next_retry_at": next_retry_at,
        },
        occasion=occasion,
    )
    return _write([notice])


def notify_auto_renew_ended(*, line: SimLine) -> list[NotificationLog]:
    """The follow-up of a declined auto-renewal ended unpaid and auto-renew is off: tell the
    customer the line runs to the end of what was paid (or has expired) and how to renew by
    hand. Once per line and period (its current expiry), by e-mail, in the caller's
    transaction. A line with no expiry has no paid period to tell about: nothing is written."""
    line = SimLine.objects.select_related("customer", "plan", "auto_renew_plan").get(pk=line.pk)
    if line.expires_at is None:
        return []
    return _write([_line_notice(Kind.AUTO_RENEW_ENDED, line)])


def _renewals_with_lines(renewals: QuerySet[Renewal]) -> QuerySet[Renewal]:
    return renewals.select_related("plan", "line__customer", "line__auto_renew_plan")


def _renewal_notice(kind: str, renewal: Renewal) -> Notice:
    return Notice(
        kind=kind,
        customer=renewal.line.customer,
        line=renewal.line,
        renewal=renewal,
        period_end=renewal.period_end,
        # Renewed before the previous period ended: the new one starts later, at its end.
        context={"early": renewal.period_start is not None and renewal.period_start > timezone.now()},
    )


def expiry_reminders_send(*, now: datetime | None = None, batch_size: int = BATCH_SIZE) -> int:
    """Remind active lines ending within 7 days (the reminder due for the time left, each kind
    once per period), and tell lines whose period ended in the last
    NOTIFICATION_EXPIRED_LOOKBACK_HOURS that they expired, once per period. A period is
    identified by the line's expiry: a renewal moves it, and the new period gets its own
    reminders. Returns how many messages were written."""
    now = now or timezone.now()
    longest = timedelta(days=EXPIRY_REMINDERS[-1][0])
    upcoming = SimLine.objects.filter(
        status=SimLine.Status.ACTIVE, expires_at__gt=now, expires_at__lte=now + longest
    )
    written = _sweep(upcoming, partial(_expiry_notice, now=now), batch_size)
    lookback = timedelta(hours=settings.NOTIFICATION_EXPIRED_LOOKBACK_HOURS)
    # "active" lines past their expiry are expired already (SimLine.effective_status); the
    # expiry job may not have run yet.
    ended = SimLine.objects.filter(
        status__in=[SimLine.Status.ACTIVE, SimLine.Status.EXPIRED],
        expires_at__gt=now - lookback,
        expires_at__lte=now,
    )
    written += _sweep(ended, partial(_line_notice, Kind.EXPIRED), batch_size)
    return written


def reminder_due(time_left: timedelta) -> str | None:
    for days, kind in EXPIRY_REMINDERS:
        if time_left <= timedelta(days=days):
            return kind
    return None


def _expiry_notice(line: SimLine, *, now: datetime) -> Notice | None:
    # On the customer's clock: "1 day before" is the same time the day before, DST or not.
    zone = line.customer.timezone
    kind = reminder_due(wall_time_left(line.expires_at, now, zone))
    return _line_notice(kind, line, days=days_left(line.expires_at, now, zone)) if kind else None


def _line_notice(kind: str, line: SimLine, **context: Any) -> Notice:
    return Notice(kind=kind, customer=line.customer, line=line, period_end=line.expires_at, context=context)


def low_data_warnings_send(*, now: datetime | None = None, batch_size: int = BATCH_SIZE) -> int:
    """Warn lines that have used LOW_DATA_PERCENT % of their current period's data, once per
    period; unlimited plans never. Returns how many messages were written."""
    now = now or timezone.now()
    active = SimLine.objects.filter(status=SimLine.Status.ACTIVE, expires_at__gt=now)
    written = 0
    for batch in _line_batches(active, batch_size):
        balances = line_balances(batch, at=now)
        notices = []
        for line in batch:
            balance = balances[line.pk]
            used = balance.data_used_percent
            if used is None or used < LOW_DATA_PERCENT:
                continue
            notices.append(
                Notice(
                    kind=Kind.LOW_DATA_80,
                    customer=line.customer,
                    line=line,
                    period_end=balance.period_end,
                    context={
                        "percent": min(int(used), 100),
                        "remaining_mb": int(balance.data_remaining_mb),
                    },
                )
            )
        with transaction.atomic():
            written += len(_write(notices))
    return written


def _sweep(lines: QuerySet[SimLine], notice_for: Callable[[SimLine], Notice | None], batch_size: int) -> int:
    written = 0
    for batch in _line_batches(lines, batch_size):
        notices = [notice for notice in map(notice_for, batch) if notice is not None]
        with transaction.atomic():
            written += len(_write(notices))
    return written


def _line_batches(lines: QuerySet[SimLine], batch_size: int) -> Iterator[list[SimLine]]:
    """Pages of lines in expiry order (keyset, so each page is one indexed query and the
    number of queries does not grow with the offset), with what the texts need."""
    lines = lines.select_related("customer", "plan", "auto_renew_plan").order_by("expires_at", "pk")
    after = None
    while True:
        page = lines
        if after is not None:
            page = page.filter(Q(expires_at__gt=after[0]) | Q(expires_at=after[0], pk__gt=after[1]))
        batch = list(page[:batch_size])
        if batch:
            yield batch
        if len(batch) < batch_size:
            return
        after = (batch[-1].expires_at, batch[-1].pk)


def _write(notices: list[Notice]) -> list[NotificationLog]:
    """Render and insert the messages not written yet, in one query for the keys already
    written and one insert for the rest; send each after commit."""
    webhook_line_notices(notices)  # partners' line.expiring and line.low_data, told once
    targets = {
        key: (notice, channel, recipient)
        for notice in notices
        for channel, recipient, key in notice.targets()
    }
    if not targets:
        return []
    known = set(
        NotificationLog.objects.filter(dedupe_key__in=list(targets)).values_list("dedupe_key", flat=True)
    )
    by_notice: dict[int, tuple[Notice, list[tuple[str, str, str]]]] = {}
    for key, (notice, channel, recipient) in targets.items():
        if key not in known:
            by_notice.setdefault(id(notice), (notice, []))[1].append((channel, recipient, key))
    logs = [log for notice, todo in by_notice.values() for log in _compose(notice, todo)]
    if not logs:
        return []
    try:
        with transaction.atomic():
            created = NotificationLog.objects.bulk_create(logs)
    except IntegrityError:
        # Another run wrote some of them since we looked: insert one by one, skipping those.
        created = [log for log in logs if _insert_unless_written(log)]
    for log in created:
        transaction.on_commit(partial(_enqueue_send, log.pk), robust=True)
    return created


def _insert_unless_written(log: NotificationLog) -> bool:
    log.pk = None
    try:
        with transaction.atomic():
            log.save(force_insert=True)
    except IntegrityError:
        if NotificationLog.objects.filter(dedupe_key=log.dedupe_key).exists():
            return False  # already written: that is "already sent", not an error
        raise
    return True


def _enqueue_send(log_id: int) -> None:
    from notifications.tasks import send_notification  # tasks import services

    send_notification.delay(log_id)


def _compose(notice: Notice, targets: list[tuple[str, str, str]]) -> list[NotificationLog]:
    customer = notice.customer
    with translation.override(customer.language), timezone.override(zoneinfo.ZoneInfo(customer.timezone)):
        context = _context(notice)
        logs = []
        for channel, recipient, key in targets:
            if channel == Channel.EMAIL:
                subject, body = render_email(notice.kind, context)
            else:
                subject, body = "", render_sms(notice.kind, context)
            logs.append(
                NotificationLog(
                    customer=customer,
                    line=notice.line,
                    renewal=notice.renewal,
                    kind=notice.kind,
                    channel=channel,
                    period_end=notice.period_end,
                    dedupe_key=key,
                    language=customer.language,
                    recipient=recipient,
                    subject=subject[:255],
                    body=body,
                )
            )
    return logs


def _context(notice: Notice) -> dict[str, Any]:
    """What the templates show, already formatted for the active language and time zone. A
    notice's own context may hold raw values, written here for the reader: ``amount`` (a
    Decimal, with ``currency``), ``decline_message`` (an untranslated msgid from
    payments.declines) and ``next_retry_at`` (a datetime: ``retry_date``, ``retry_time``…)."""
    customer, line, renewal = notice.customer, notice.line, notice.renewal
    language = customer.language
    context: dict[str, Any] = {
        "name": customer.full_name,
        "zone": customer.timezone,
        "account_url": f"{settings.SITE_URL}/account/",
    }
    if line is not None:
        context.update(
            line=line_label(line),
            line_tail=(line.msisdn or line.iccid)[-4:],
            auto_renew=line.auto_renew,
            renew_plan=line.auto_renew_plan.display_name(language) if line.auto_renew_plan else "",
        )
        plan = renewal.plan if renewal is not None else line.plan
        context["plan"] = plan.display_name(language) if plan else ""
    if notice.period_end is not None:
        now = timezone.now()
        context.update(
            _moment(notice.period_end),
            days=days_left(notice.period_end, now, customer.timezone),
            ended=notice.period_end <= now,
        )
    if renewal is not None and renewal.period_start is not None:
        context.update(_moment(renewal.period_start, prefix="start_"))
    context.update(notice.context)
    if isinstance(context.get("amount"), Decimal):
        context["amount"] = format_money(context["amount"], context["currency"])
    if context.get("decline_message"):
        context["decline_message"] = decline_message(context["decline_message"])
    if isinstance(context.get("next_retry_at"), datetime):
        context.update(_moment(context["next_retry_at"], prefix="retry_"))
    return context


def _moment(value: datetime, prefix: str = "") -> dict[str, str]:
    local = timezone.localtime(value)
    # Translators: a date format (https://docs.djangoproject.com/en/stable/ref/templates/builtins/#date)
    # for SMS: day and month, no year, as short as the language allows.
    day_format = pgettext("SMS date format", "F j")
    return {
        f"{prefix}date": formats.date_format(local, "DATE_FORMAT"),
        f"{prefix}time": formats.time_format(local, "H:i"),
        f"{prefix}day": formats.date_format(local, day_format),
    }


def line_label(line: SimLine) -> str:
    """How a message names a line: its number and the end of its ICCID (what is printed on
    the SIM card), never the whole ICCID."""
    masked = f"SIM …{line.iccid[-4:]}"
    return f"{line.msisdn} ({masked})" if line.msisdn else masked


def notification_send(*, log_id: int, manual: bool = False) -> SendOutcome:
    """Send one message, once: a message already sent, being sent by another worker, or out
    of tries (NOTIFICATION_MAX_ATTEMPTS; ``manual`` resends by staff are not counted against
    it) is skipped. The try is claimed by compare-and-set before the provider is called, so
    a duplicate task cannot send a second copy; a failure is recorded on the message."""
    now = timezone.now()
    claim = NotificationLog.objects.filter(pk=log_id, status__in=[Status.PENDING, Status.FAILED]).filter(
        Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
    )
    if not manual:
        claim = claim.filter(attempts__lt=settings.NOTIFICATION_MAX_ATTEMPTS)
    claimed = claim.update(
        attempts=F("attempts") + 1,
        last_attempt_at=now,
        claimed_until=now + timedelta(seconds=SEND_CLAIM_SECONDS),
    )
    if claimed != 1:
        return "skipped"
    log = NotificationLog.objects.get(pk=log_id)
    try:
        reference = _deliver(log)
    except Exception as exc:  # any failure of the provider or the network is recorded
        logger.warning("notification %s (%s) failed: %s", log.pk, log.channel, exc, exc_info=True)
        NotificationLog.objects.filter(pk=log.pk).update(
            status=Status.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000], claimed_until=None
        )
        return "failed"
    NotificationLog.objects.filter(pk=log.pk).update(
        status=Status.SENT,
        sent_at=timezone.now(),
        error="",
        provider_reference=reference[:100],
        claimed_until=None,
    )
    return "sent"


def _deliver(log: NotificationLog) -> str:
    if log.channel == Channel.SMS:
        return get_sms_backend().send(to=log.recipient, body=log.body)
    domain = parseaddr(settings.DEFAULT_FROM_EMAIL)[1].rpartition("@")[2] or "localhost"
    message_id = make_msgid(idstring=f"notification-{log.pk}", domain=domain)
    message = EmailMultiAlternatives(
        subject=log.subject,
        body=log.body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[log.recipient],
        # An automatic message (RFC 3834): out-of-office replies are not sent back to it.
        headers={"Message-ID": message_id, "Auto-Submitted": "auto-generated"},
    )
    message.send()
    return message_id


def notifications_resend_failed(*, now: datetime | None = None, limit: int = 200) -> int:
    """Retry messages not sent NOTIFICATION_RESEND_AFTER_MINUTES after they were written or
    last tried: failed sends, and pending ones whose send task was lost (no broker, a worker
    killed). Each message gets NOTIFICATION_MAX_ATTEMPTS tries in all. Returns how many
    were sent."""
    now = now or timezone.now()
    cutoff = now - timedelta(minutes=settings.NOTIFICATION_RESEND_AFTER_MINUTES)
    due = (
        NotificationLog.objects.filter(
            status__in=[Status.PENDING, Status.FAILED],
            created_at__lte=cutoff,
            attempts__lt=settings.NOTIFICATION_MAX_ATTEMPTS,
        )
        .filter(Q(last_attempt_at__isnull=True) | Q(last_attempt_at__lte=cutoff))
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )
    return sum(notification_send(log_id=log_id) == "sent" for log_id in list(due))


def notifications_resend(*, log_ids: Iterable[int], actor: Actor) -> int:
    """Staff ask to send failed messages again (after fixing an address, or once a provider is
    back): each is sent after commit, beyond the automatic tries. Returns how many."""
    with transaction.atomic():
        failed = list(
            NotificationLog.objects.filter(pk__in=list(log_ids), status=Status.FAILED).values_list(
                "pk", flat=True
            )
        )
        for log_id in failed:
            transaction.on_commit(partial(_enqueue_manual_send, log_id), robust=True)
    if failed:
        logger.info("%s asked to resend notifications %s", actor.label, failed)
    return len(failed)


def _enqueue_manual_send(log_id: int) -> None:
    from notifications.tasks import send_notification

    send_notification.delay(log_id, manual=True)
