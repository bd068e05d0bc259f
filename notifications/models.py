"""What was told to customers, by e-mail or SMS: one row per message, written in the same
transaction as the event it reports and sent after commit. The row is also the dedupe record:
its ``dedupe_key`` is unique, so each reminder goes out once per line, period and channel."""

from datetime import UTC, datetime

from django.db import models
from django.db.models import Q
from django.db.models.functions import Upper
from django.utils.translation import gettext_lazy as _

from reseller.fields import choices_check


class NotificationKind(models.TextChoices):
    RENEWAL_ACTIVE = "renewal_active", _("Renewal active")
    EXPIRY_7D = "expiry_7d", _("Expires within 7 days")
    EXPIRY_3D = "expiry_3d", _("Expires within 3 days")
    EXPIRY_1D = "expiry_1d", _("Expires within 1 day")
    EXPIRED = "expired", _("Expired")
    LOW_DATA_80 = "low_data_80", _("Low data (80 percent used)")
    ACTIVATION_DELAYED = "activation_delayed", _("Activation delayed")
    PAYMENT_FAILED = "payment_failed", _("Renewal payment failed")
    AUTO_RENEW_ENDED = "auto_renew_ended", _("Auto-renew turned off after failed payments")


class NotificationChannel(models.TextChoices):
    EMAIL = "email", _("E-mail")
    SMS = "sms", "SMS"


class NotificationStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")


#: Kinds about one renewal: told once per renewal and channel. Every other kind is about a
#: line's period: told once per line, period (its end) and channel.
RENEWAL_KINDS = frozenset(
    {
        NotificationKind.RENEWAL_ACTIVE.value,
        NotificationKind.ACTIVATION_DELAYED.value,
        NotificationKind.PAYMENT_FAILED.value,
    }
)


def dedupe_key(
    *,
    kind: str,
    channel: str,
    line_id: int | None,
    renewal_id: int | None,
    period_end: datetime | None,
    occasion: str = "",
) -> str:
    """The identity of a message: "expiry_7d:line=12:period=2026-12-01T09:00:00Z:email" or
    "renewal_active:renewal=7:sms". Built from non-null parts only, because NULLs never
    collide in a unique constraint. An ``occasion`` tells apart a renewal message sent again
    on purpose ("payment_failed:renewal=7:link=2026-12-04:email": the link staff send, once
    a day)."""
    if kind in RENEWAL_KINDS:
        if renewal_id is None:
            raise ValueError(f"a {kind} message needs its renewal")
        if occasion:
            return f"{kind}:renewal={renewal_id}:{occasion}:{channel}"
        return f"{kind}:renewal={renewal_id}:{channel}"
    if line_id is None or period_end is None:
        raise ValueError(f"a {kind} message needs its line and period")
    period = period_end.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"{kind}:line={line_id}:period={period}:{channel}"


class NotificationLog(models.Model):
    Kind = NotificationKind
    Channel = NotificationChannel
    Status = NotificationStatus

    customer = models.ForeignKey(
        "accounts.Customer", verbose_name=_("customer"), on_delete=models.PROTECT, related_name="+"
    )
    line = models.ForeignKey(
        "accounts.SimLine",
        verbose_name=_("line"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    renewal = models.ForeignKey(
        "plans.Renewal",
        verbose_name=_("renewal"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    kind = models.CharField(_("kind"), max_length=24, choices=Kind.choices)
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)
    #: The end of the period a reminder is about (the line's expiry when it was written).
    period_end = models.DateTimeField(_("period end"), null=True, blank=True)
    dedupe_key = models.CharField(_("dedupe key"), max_length=200, unique=True)
    language = models.CharField(_("language"), max_length=8)
    recipient = models.CharField(_("recipient"), max_length=254)
    subject = models.CharField(_("subject"), max_length=255, blank=True)
    body = models.TextField(_("text"))
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_attempt_at = models.DateTimeField(_("last attempt"), null=True, blank=True)
    #: Set while one worker is sending, so a duplicate task does not send a second copy; a
    #: worker killed mid-send leaves it to expire.
    claimed_until = models.DateTimeField(_("being sent until"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True)
    provider_reference = models.CharField(_("provider reference"), max_length=100, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at", "-id"]
        indexes = [
            # Resend job: the few messages not sent yet, oldest first.
            models.Index(
                fields=["created_at"], condition=Q(status__in=["pending", "failed"]), name="notif_unsent_idx"
            ),
            # A customer's or a line's message history (admin, support).
            models.Index(fields=["customer", "created_at"], name="notif_customer_idx"),
            models.Index(fields=["line", "created_at"], name="notif_line_idx"),
            # Staff search by exact address, case-insensitively (UPPER(recipient) = UPPER(%s)).
            models.Index(Upper("recipient"), name="notif_recipient_upper_idx"),
        ]
        constraints = [
            choices_check("kind", NotificationKind, "notif_kind_valid"),
            choices_check("channel", NotificationChannel, "notif_channel_valid"),
            choices_check("status", NotificationStatus, "notif_status_valid"),
            models.CheckConstraint(
                condition=Q(kind__in=sorted(RENEWAL_KINDS), renewal__isnull=False)
                | (~Q(kind__in=sorted(RENEWAL_KINDS)) & Q(line__isnull=False, period_end__isnull=False)),
                name="notif_subject_present",
            ),
            models.CheckConstraint(
                condition=Q(status="sent", sent_at__isnull=False)
                | (~Q(status="sent") & Q(sent_at__isnull=True)),
                name="notif_sent_has_sent_at",
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} → {self.recipient}"
