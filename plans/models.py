"""What can be bought (plans and their prices) and what a purchase grants (renewals and their
periods), plus the carrier usage that draws the allowances down."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from reseller.actors import Channel as ActorChannel
from reseller.fields import (
    CurrencyField,
    MoneyAmountField,
    choices_check,
    currency_check,
    non_negative_check,
    positive_check,
)
from reseller.states import transitions
from reseller.validators import validate_country_list


class PlanActivationPolicy(models.TextChoices):
    IMMEDIATE = "immediate", _("Starts when paid (or when the current period ends)")
    FIRST_USE = "first_use", _("Starts at first use")


class Plan(models.Model):
    ActivationPolicy = PlanActivationPolicy

    code = models.SlugField(_("code"), max_length=50, unique=True)
    name_en = models.CharField(_("name (English)"), max_length=120)
    name_fr = models.CharField(_("name (French)"), max_length=120)
    name_zh_hans = models.CharField(_("name (Chinese)"), max_length=120)
    validity_days = models.PositiveSmallIntegerField(_("validity (days)"))
    data_mb = models.PositiveIntegerField(
        _("data (MB)"), null=True, blank=True, help_text=_("Leave empty for unlimited data.")
    )
    voice_minutes = models.PositiveIntegerField(_("voice minutes"), default=0)
    sms = models.PositiveIntegerField(_("SMS"), default=0)
    coverage = models.JSONField(
        _("coverage"),
        default=list,
        validators=[validate_country_list],
        help_text=_('ISO country codes, e.g. ["FR", "ES", "IT"].'),
    )
    for_physical = models.BooleanField(_("for physical SIMs"), default=True)
    for_esim = models.BooleanField(_("for eSIMs"), default=True)
    activation_policy = models.CharField(
        _("activation"),
        max_length=12,
        choices=ActivationPolicy.choices,
        default=ActivationPolicy.IMMEDIATE,
    )
    is_active = models.BooleanField(_("on sale"), default=True)
    is_auto_renewable = models.BooleanField(_("auto-renewable"), default=True)
    sort_order = models.PositiveSmallIntegerField(_("order"), default=0)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("plan")
        verbose_name_plural = _("plans")
        ordering = ["sort_order", "validity_days", "code"]
        constraints = [
            models.CheckConstraint(condition=Q(validity_days__gt=0), name="plan_validity_positive"),
            models.CheckConstraint(
                condition=Q(for_physical=True) | Q(for_esim=True), name="plan_has_sim_kind"
            ),
            choices_check("activation_policy", PlanActivationPolicy, "plan_activation_policy_valid"),
        ]

    def __str__(self):
        return f"{self.code} — {self.display_name()}"

    def display_name(self, language: str | None = None) -> str:
        language = (language or get_language() or "en").lower()
        if language.startswith("zh"):
            return self.name_zh_hans
        if language.startswith("fr"):
            return self.name_fr
        return self.name_en

    @property
    def is_unlimited_data(self) -> bool:
        return self.data_mb is None


class PriceChannel(models.TextChoices):
    RETAIL = "retail", _("Retail")
    PARTNER = "partner", _("Partner")


class Price(models.Model):
    Channel = PriceChannel

    plan = models.ForeignKey(Plan, verbose_name=_("plan"), on_delete=models.CASCADE, related_name="prices")
    currency = CurrencyField()
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices, default=Channel.RETAIL)
    amount = MoneyAmountField(_("amount"))

    class Meta:
        verbose_name = _("price")
        verbose_name_plural = _("prices")
        ordering = ["plan", "channel", "currency"]
        constraints = [
            models.UniqueConstraint(
                fields=["plan", "currency", "channel"], name="price_unique_per_plan_currency_channel"
            ),
            positive_check("amount", "price_amount_positive", message=_("A price must be more than zero.")),
            currency_check("currency", "price_currency_iso4217"),
            choices_check("channel", PriceChannel, "price_channel_valid"),
        ]

    def __str__(self):
        return f"{self.plan.code} {self.amount} {self.currency} ({self.channel})"


class RenewalChannel(models.TextChoices):
    SELF_SERVICE = "self_service", _("Self-service")
    PUBLIC_TOPUP = "public_topup", _("Public top-up")
    ADMIN = "admin", _("Admin")
    PARTNER_API = "partner_api", _("Partner API")
    AUTO_RENEW = "auto_renew", _("Auto-renew")


class RenewalStatus(models.TextChoices):
    PENDING_PAYMENT = "pending_payment", _("Waiting for payment")
    PAID = "paid", _("Paid")
    ACTIVATING = "activating", _("Activating")
    ACTIVE = "active", _("Active")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")
    REFUNDED = "refunded", _("Refunded")


class Renewal(models.Model):
    """One purchase of a plan for a line. The period it grants starts at the later of the
    moment it is paid and the end of the line's current period, so renewing early never
    loses days; it is fixed once, when the renewal is paid."""

    Channel = RenewalChannel

    Status = RenewalStatus
    #: The statuses whose period is granted (paid, being activated, active).
    GRANTED_STATUSES = (RenewalStatus.PAID, RenewalStatus.ACTIVATING, RenewalStatus.ACTIVE)

    STATUS_TRANSITIONS = transitions(
        {
            "pending_payment": {"paid", "failed", "cancelled"},
            "failed": {"paid", "cancelled"},  # a failed payment can still be recovered
            "paid": {"activating", "active", "refunded"},
            "activating": {"active", "refunded"},
            "active": {"refunded"},
            "cancelled": set(),
            "refunded": set(),
        }
    )

    line = models.ForeignKey(
        "accounts.SimLine", verbose_name=_("line"), on_delete=models.PROTECT, related_name="renewals"
    )
    plan = models.ForeignKey(Plan, verbose_name=_("plan"), on_delete=models.PROTECT, related_name="renewals")
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.PENDING_PAYMENT
    )
    # Price and allowances are snapshots: changing the plan later changes no past purchase.
    price_amount = MoneyAmountField(_("price"))
    currency = CurrencyField()
    data_mb = models.PositiveIntegerField(_("data (MB)"), null=True, blank=True)
    voice_minutes = models.PositiveIntegerField(_("voice minutes"), default=0)
    sms = models.PositiveIntegerField(_("SMS"), default=0)
    validity_days = models.PositiveSmallIntegerField(_("validity (days)"))
    # Idempotency: the same (scope, key) is the same purchase, whoever retries it.
    idempotency_scope = models.CharField(_("idempotency scope"), max_length=64)
    idempotency_key = models.CharField(_("idempotency key"), max_length=255)
    period_start = models.DateTimeField(_("period start"), null=True, blank=True)
    period_end = models.DateTimeField(_("period end"), null=True, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("requested by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    carrier_reference = models.CharField(_("carrier reference"), max_length=100, blank=True)
    activation_attempts = models.PositiveSmallIntegerField(_("activation attempts"), default=0)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    paid_at = models.DateTimeField(_("paid"), null=True, blank=True)
    activated_at = models.DateTimeField(_("activated"), null=True, blank=True)

    class Meta:
        verbose_name = _("renewal")
        verbose_name_plural = _("renewals")
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["line", "period_end"], name="renewal_line_period_idx"),
            # Stuck-activation sweep: paid or activating renewals by age.
            models.Index(
                fields=["paid_at"],
                condition=Q(status__in=["paid", "activating"]),
                name="renewal_unactivated_idx",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["idempotency_scope", "idempotency_key"], name="renewal_idempotency_unique"
            ),
            choices_check("status", RenewalStatus, "renewal_status_valid"),
            choices_check("channel", RenewalChannel, "renewal_channel_valid"),
            non_negative_check("price_amount", "renewal_price_non_negative"),
            currency_check("currency", "renewal_currency_iso4217"),
            models.CheckConstraint(condition=Q(validity_days__gt=0), name="renewal_validity_positive"),
            models.CheckConstraint(
                condition=Q(period_start__isnull=True, period_end__isnull=True)
                | Q(
                    period_start__isnull=False,
                    period_end__isnull=False,  # else "end > start" is NULL, and NULL passes a CHECK
                    period_end__gt=models.F("period_start"),
                ),
                name="renewal_period_ordered",
            ),
            # Paid or later states always have a payment time.
            models.CheckConstraint(
                condition=Q(status__in=["pending_payment", "failed", "cancelled"]) | Q(paid_at__isnull=False),
                name="renewal_paid_has_paid_at",
            ),
        ]

    def __str__(self):
        return f"#{self.pk} {self.plan.code} → {self.line.iccid}"


class Usage(models.Model):
    """One usage record from the carrier. ``source_record_id`` is unique, so importing the
    same file twice never counts twice."""

    line = models.ForeignKey(
        "accounts.SimLine", verbose_name=_("line"), on_delete=models.PROTECT, related_name="usage"
    )
    recorded_at = models.DateTimeField(_("recorded at"))
    data_bytes = models.PositiveBigIntegerField(_("data (bytes)"), default=0)
    voice_minutes = models.PositiveIntegerField(_("voice minutes"), default=0)
    sms = models.PositiveIntegerField(_("SMS"), default=0)
    source_record_id = models.CharField(_("carrier record id"), max_length=100, unique=True)
    imported_at = models.DateTimeField(_("imported"), auto_now_add=True)

    class Meta:
        verbose_name = _("usage record")
        verbose_name_plural = _("usage records")
        ordering = ["-recorded_at"]
        indexes = [models.Index(fields=["line", "recorded_at"], name="usage_line_time_idx")]

    def __str__(self):
        return self.source_record_id


class UsageImport(models.Model):
    """The report of one carrier usage file: how many rows were applied, already known
    (duplicates) or rejected, and why each rejected row was refused. Written once, by
    ``plans.usage_import.usage_import``; the usage rows themselves are in ``Usage``."""

    #: Rejected rows beyond this many are counted in ``rows_rejected`` but not listed.
    MAX_ERRORS = 1_000

    filename = models.CharField(_("file name"), max_length=255)
    sha256 = models.CharField(_("SHA-256"), max_length=64, db_index=True)
    rows_total = models.PositiveIntegerField(_("rows"), default=0)
    rows_applied = models.PositiveIntegerField(_("applied"), default=0)
    rows_duplicate = models.PositiveIntegerField(_("already imported"), default=0)
    rows_rejected = models.PositiveIntegerField(_("rejected"), default=0)
    #: [{"line": 3, "code": "unknown_iccid", "params": {...}, "reason": "…"}, …] in file order.
    errors = models.JSONField(_("rejected rows"), default=list, blank=True)
    errors_truncated = models.BooleanField(_("more rejected rows than listed"), default=False)
    imported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("imported by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    channel = models.CharField(_("channel"), max_length=16, choices=ActorChannel.choices)
    created_at = models.DateTimeField(_("imported"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("usage import")
        verbose_name_plural = _("usage imports")
        ordering = ["-created_at", "-id"]
        constraints = [
            choices_check("channel", ActorChannel, "usage_import_channel_valid"),
            models.CheckConstraint(
                # Every row is applied, a duplicate or rejected.
                condition=Q(
                    rows_total=models.F("rows_applied")
                    + models.F("rows_duplicate")
                    + models.F("rows_rejected")
                ),
                name="usage_import_rows_add_up",
            ),
        ]

    def __str__(self):
        return self.filename
