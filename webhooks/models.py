"""Signed webhooks to partners: their endpoints, the outbox of events and one delivery per
event and endpoint, with every attempt kept (the delivery log)."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from reseller import encryption
from reseller.fields import choices_check
from reseller.states import transitions


class EventType(models.TextChoices):
    LINE_RENEWED = "line.renewed", _("A line was renewed (period paid)")
    RENEWAL_FAILED = "renewal.failed", _("A renewal's payment failed")
    LINE_EXPIRING = "line.expiring", _("A line expires soon")
    LINE_LOW_DATA = "line.low_data", _("A line has used most of its data")
    REFUND_SUCCEEDED = "refund.succeeded", _("A refund succeeded")
    REFUND_FAILED = "refund.failed", _("A refund failed")
    WALLET_LOW_BALANCE = "wallet.low_balance", _("The prepaid wallet fell below its threshold")


class WebhookEndpoint(models.Model):
    """Where a partner wants its events: an address, the events it subscribes to, and the secret
    its deliveries are signed with. The secret must be kept readable to sign with, so it is
    stored encrypted (reseller/encryption.py) and read through ``secret``; it is shown to the
    Manager once, when the endpoint is created or its secret rotated."""

    partner = models.ForeignKey(
        "accounts.Partner",
        verbose_name=_("partner"),
        on_delete=models.PROTECT,
        related_name="webhook_endpoints",
    )
    url = models.URLField(_("address"), max_length=500)
    description = models.CharField(_("description"), max_length=200, blank=True)
    #: The event types delivered here (values of EventType).
    event_types = models.JSONField(_("events"), default=list)
    #: Fernet token of the signing secret: a dump or replica of the database never holds it.
    secret_encrypted = models.TextField(_("signing secret (encrypted)"), editable=False)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    secret_rotated_at = models.DateTimeField(_("secret rotated"), null=True, blank=True)

    class Meta:
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")
        ordering = ["partner__name", "pk"]

    def __str__(self):
        return f"{self.partner}: {self.url}"

    @property
    def secret(self) -> str:
        """The signing secret, decrypted; SecretUnreadable when no configured key opens it (a
        delivery is then never sent unsigned)."""
        return encryption.decrypt(self.secret_encrypted)

    @secret.setter
    def secret(self, value: str) -> None:
        self.secret_encrypted = encryption.encrypt(value)

    def subscribes_to(self, event_type: str) -> bool:
        return self.is_active and event_type in self.event_types


class WebhookEvent(models.Model):
    """One piece of news for one partner, written in the transaction of the business change
    it reports (the outbox): rolled back with it, never lost after it commits."""

    Type = EventType

    event_id = models.CharField(_("event id"), max_length=40, unique=True)
    partner = models.ForeignKey(
        "accounts.Partner", verbose_name=_("partner"), on_delete=models.PROTECT, related_name="webhook_events"
    )
    event_type = models.CharField(_("type"), max_length=32, choices=EventType.choices)
    data = models.JSONField(_("data"))
    #: Set for news that must be told once (a reminder per period, a refund's outcome).
    dedupe_key = models.CharField(max_length=200, unique=True, null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("created"), db_index=True)

    class Meta:
        verbose_name = _("webhook event")
        verbose_name_plural = _("webhook events")
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["partner", "-created_at", "-id"], name="webhook_event_partner_recent")
        ]
        constraints = [choices_check("event_type", EventType, "webhook_event_type_valid")]

    def __str__(self):
        return f"{self.event_id} {self.event_type}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed")


class WebhookDelivery(models.Model):
    """One event sent to one endpoint, retried on a schedule until a 2xx answer or until the
    retry window closes. ``next_attempt_at`` is both the schedule and the claim: a worker
    moves it forward before sending, so no other worker or sweep sends it meanwhile."""

    Status = DeliveryStatus

    STATUS_TRANSITIONS = transitions(
        {"pending": {"delivered", "failed"}, "delivered": set(), "failed": set()}
    )

    event = models.ForeignKey(
        WebhookEvent, verbose_name=_("event"), on_delete=models.PROTECT, related_name="deliveries"
    )
    endpoint = models.ForeignKey(
        WebhookEndpoint, verbose_name=_("endpoint"), on_delete=models.PROTECT, related_name="deliveries"
    )
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    last_status_code = models.PositiveIntegerField(_("last HTTP status"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"))
    #: A manual resend is a new delivery of the same event; this names the one it repeats.
    resent_from = models.ForeignKey(
        "self",
        verbose_name=_("resent from"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        ordering = ["-created_at", "-pk"]
        indexes = [
            # The sweep: pending deliveries by due time.
            models.Index(
                fields=["next_attempt_at"],
                name="webhook_delivery_due",
                condition=models.Q(status="pending"),
            )
        ]
        constraints = [choices_check("status", DeliveryStatus, "webhook_delivery_status_valid")]

    def __str__(self):
        return f"{self.event.event_id} → {self.endpoint.url}"


class WebhookAttempt(models.Model):
    """One POST of a delivery and what came back: the delivery log, never edited."""

    delivery = models.ForeignKey(
        WebhookDelivery, verbose_name=_("delivery"), on_delete=models.PROTECT, related_name="attempt_log"
    )
    number = models.PositiveIntegerField(_("attempt"))
    started_at = models.DateTimeField(_("sent"))
    duration_ms = models.PositiveIntegerField(_("duration (ms)"))
    status_code = models.PositiveIntegerField(_("HTTP status"), null=True, blank=True)
    response_body = models.TextField(_("response (start)"), blank=True)
    error = models.CharField(_("error"), max_length=500, blank=True)
    succeeded = models.BooleanField(_("succeeded"), default=False)

    class Meta:
        verbose_name = _("webhook attempt")
        verbose_name_plural = _("webhook attempts")
        ordering = ["delivery", "number"]
        constraints = [
            models.UniqueConstraint(fields=["delivery", "number"], name="webhook_attempt_number_unique")
        ]

    def __str__(self):
        return f"#{self.number} {self.status_code or self.error}"
