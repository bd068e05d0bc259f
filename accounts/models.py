"""Who the customers are and what they hold: partners, customers, SIM lines, corrections and
the append-only audit trail."""

from datetime import timedelta

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.db.models.functions import Upper
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from reseller.actors import ActorKind, Channel
from reseller.fields import CurrencyField, choices_check, currency_check
from reseller.states import transitions
from reseller.validators import (
    validate_activation_code,
    validate_country_code,
    validate_e164,
    validate_iccid,
    validate_timezone,
)

# Shape of an E.164 number, for the database; validate_e164 checks the number plan too.
E164_REGEX = r"^\+[1-9][0-9]{6,14}\Z"


class Language(models.TextChoices):
    ENGLISH = "en", "English"
    FRENCH = "fr", "Français"
    CHINESE = "zh-hans", "简体中文"


class PartnerStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    SUSPENDED = "suspended", _("Suspended")
    CLOSED = "closed", _("Closed")


class Partner(models.Model):
    """A travel agency or sub-reseller using the API. Keys and wallet come with the API."""

    Status = PartnerStatus

    STATUS_TRANSITIONS = transitions(
        {"active": {"suspended", "closed"}, "suspended": {"active", "closed"}, "closed": set()}
    )

    name = models.CharField(_("name"), max_length=200)
    code = models.SlugField(_("code"), max_length=50, unique=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.ACTIVE)
    contact_email = models.EmailField(_("contact e-mail"), blank=True)
    default_currency = CurrencyField(default="EUR")
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("partner")
        verbose_name_plural = _("partners")
        ordering = ["name"]
        constraints = [
            choices_check("status", PartnerStatus, "partner_status_valid"),
            currency_check("default_currency", "partner_currency_iso4217"),
        ]

    def __str__(self):
        return self.name


class Customer(models.Model):
    """A person who holds lines: may have a login, may belong to a partner."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("login"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="customer",
    )
    partner = models.ForeignKey(
        Partner,
        verbose_name=_("partner"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="customers",
    )
    full_name = models.CharField(_("full name"), max_length=200)
    # The name the SIM is registered under. Customers fix the spelling of ``full_name``
    # themselves; this one changes only through a correction request staff check.
    legal_name = models.CharField(
        _("name on identity document"),
        max_length=200,
        blank=True,
        help_text=_("As on the passport or identity card the SIM is registered with."),
    )
    email = models.EmailField(_("e-mail"), blank=True)
    phone = models.CharField(
        _("phone"),
        max_length=16,
        blank=True,
        db_index=True,
        validators=[validate_e164],
        help_text=_("International format, e.g. +33612345678."),
    )
    address_line1 = models.CharField(_("address"), max_length=200, blank=True)
    address_line2 = models.CharField(_("address (line 2)"), max_length=200, blank=True)
    postal_code = models.CharField(_("postal code"), max_length=20, blank=True)
    city = models.CharField(_("city"), max_length=100, blank=True)
    country = models.CharField(_("country"), max_length=2, blank=True, validators=[validate_country_code])
    language = models.CharField(
        _("language"), max_length=8, choices=Language.choices, default=Language.ENGLISH
    )
    currency = CurrencyField(default="EUR")
    timezone = models.CharField(
        _("time zone"), max_length=64, default="Europe/Paris", validators=[validate_timezone]
    )
    stripe_customer_id = models.CharField(_("Stripe customer id"), max_length=255, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        ordering = ["-id"]
        indexes = [
            # Staff search: e-mail is matched case-insensitively (UPPER(email) = UPPER(%s)).
            # Names are matched by substring; on PostgreSQL a trigram index serves that
            # (migration 0004), elsewhere a scan of the customers table is cheap enough.
            models.Index(Upper("email"), name="customer_email_upper_idx"),
        ]
        constraints = [
            choices_check("language", Language, "customer_language_valid"),
            currency_check("currency", "customer_currency_iso4217"),
            models.CheckConstraint(
                condition=Q(phone="") | Q(phone__regex=E164_REGEX),
                name="customer_phone_e164",
                violation_error_message=_("Enter the number in international format, e.g. +33612345678."),
            ),
            models.UniqueConstraint(
                fields=["stripe_customer_id"],
                condition=~Q(stripe_customer_id=""),
                name="customer_stripe_id_unique",
            ),
        ]

    def __str__(self):
        return self.full_name


class SimLineKind(models.TextChoices):
    PHYSICAL = "physical", _("Physical SIM")
    ESIM = "esim", _("eSIM")


class SimLineStatus(models.TextChoices):
    INACTIVE = "inactive", _("Inactive")
    ACTIVE = "active", _("Active")
    EXPIRED = "expired", _("Expired")
    SUSPENDED = "suspended", _("Suspended")
    TERMINATED = "terminated", _("Terminated")


class SimLine(models.Model):
    """A SIM (physical or eSIM) and its entitlement. ``plan`` and ``expires_at`` mirror the
    latest granted period so lists and periodic jobs are one indexed query; the renewal
    service is the only writer of both."""

    Kind = SimLineKind

    Status = SimLineStatus

    STATUS_TRANSITIONS = transitions(
        {
            "inactive": {"active", "terminated"},
            "active": {"expired", "suspended", "terminated"},
            "expired": {"active", "terminated"},
            "suspended": {"active", "expired", "terminated"},
            "terminated": set(),
        }
    )

    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.PROTECT, related_name="lines"
    )
    iccid = models.CharField("ICCID", max_length=20, unique=True, validators=[validate_iccid])
    msisdn = models.CharField(
        _("phone number (MSISDN)"),
        max_length=16,
        null=True,
        blank=True,
        unique=True,
        validators=[validate_e164],
    )
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.PHYSICAL)
    activation_code = models.CharField(
        _("eSIM activation code"),
        max_length=255,
        blank=True,
        validators=[validate_activation_code],
        help_text=_("LPA:1$<SM-DP+ address>$<matching id>"),
    )
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.INACTIVE)
    plan = models.ForeignKey(
        "plans.Plan",
        verbose_name=_("current plan"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    auto_renew = models.BooleanField(_("auto-renew"), default=False)
    auto_renew_plan = models.ForeignKey(
        "plans.Plan",
        verbose_name=_("auto-renew plan"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    #: The saved card auto-renew charges (off-session, through Stripe).
    auto_renew_payment_method = models.ForeignKey(
        "payments.SavedPaymentMethod",
        verbose_name=_("auto-renew payment method"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    activated_at = models.DateTimeField(_("first activated"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("SIM line")
        verbose_name_plural = _("SIM lines")
        ordering = ["-id"]
        indexes = [
            # Reminder, expiry and stuck sweeps: "active lines ending before T".
            models.Index(fields=["status", "expires_at"], name="line_status_expiry_idx"),
            # Auto-renew job: "lines with auto-renew ending before T", small and partial.
            models.Index(fields=["expires_at"], condition=Q(auto_renew=True), name="line_autorenew_due_idx"),
        ]
        constraints = [
            choices_check("status", SimLineStatus, "line_status_valid"),
            choices_check("kind", SimLineKind, "line_kind_valid"),
            models.CheckConstraint(
                condition=Q(iccid__regex=r"^89[0-9]{17,18}\Z"),
                name="line_iccid_format",
                violation_error_message=_("An ICCID has 19 or 20 digits and starts with 89."),
            ),
            models.CheckConstraint(
                # regex, not startswith: SQLite's LIKE would accept "lpa:1$".
                condition=Q(kind="esim", activation_code__regex=r"^LPA:1\$")
                | Q(kind="physical", activation_code=""),
                name="line_activation_code_matches_kind",
                violation_error_message=_(
                    "An eSIM needs its activation code (LPA:1$…); a physical SIM has none."
                ),
            ),
            models.CheckConstraint(
                condition=Q(msisdn__isnull=True) | Q(msisdn__regex=E164_REGEX),
                name="line_msisdn_e164",
                violation_error_message=_("Enter the number in international format, e.g. +33612345678."),
            ),
            models.CheckConstraint(
                condition=Q(auto_renew=False) | Q(auto_renew_plan__isnull=False),
                name="line_autorenew_needs_plan",
                violation_error_message=_("Choose the auto-renew plan before turning auto-renew on."),
            ),
        ]

    def __str__(self):
        return self.iccid

    def clean(self):
        # Also checked by a database constraint; repeated here because the admin shows
        # ``kind`` read-only, and constraints on fields outside a form are not validated.
        if self.kind == self.Kind.ESIM and not self.activation_code:
            raise ValidationError({"activation_code": _("An eSIM needs its activation code (LPA:1$…).")})
        if self.kind == self.Kind.PHYSICAL and self.activation_code:
            raise ValidationError({"activation_code": _("A physical SIM has no activation code.")})
        plan = self.auto_renew_plan
        if plan is not None and not (plan.for_esim if self.kind == self.Kind.ESIM else plan.for_physical):
            raise ValidationError({"auto_renew_plan": _("This plan is not available for this kind of SIM.")})
        method = self.auto_renew_payment_method
        if method is not None and (
            method.customer_id != self.customer_id or method.removed_at is not None or method.kind != "card"
        ):
            raise ValidationError(
                {"auto_renew_payment_method": _("Choose one of this customer's saved cards.")}
            )

    @property
    def effective_status(self) -> str:
        """Expired the moment the paid period ends, even before the expiry job has run."""
        if (
            self.status == self.Status.ACTIVE
            and self.expires_at is not None
            and self.expires_at <= timezone.now()
        ):
            return self.Status.EXPIRED
        return self.status


class CorrectionKind(models.TextChoices):
    DETAILS = "details", _("Customer details")
    OWNER_MOVE = "owner_move", _("Line moved to another customer")
    SIM_SWAP = "sim_swap", _("SIM swap")
    BALANCE = "balance", _("Balance adjustment")
    EXPIRY = "expiry", _("Expiry adjustment")


class CorrectionStatus(models.TextChoices):
    REQUESTED = "requested", _("Requested")
    APPLIED = "applied", _("Applied")
    REJECTED = "rejected", _("Rejected")


class CorrectionReason(models.TextChoices):
    CUSTOMER_REQUEST = "customer_request", _("Customer request")
    TYPO = "typo", _("Typing error")
    ABNORMAL_DEDUCTION = "abnormal_deduction", _("Abnormal deduction")
    NETWORK_OUTAGE = "network_outage", _("Network outage")
    LOST_OR_BROKEN_SIM = "lost_or_broken_sim", _("Lost or broken SIM")
    GOODWILL = "goodwill", _("Goodwill gesture")
    REVERSAL = "reversal", _("Reversal of a wrong correction")
    REFUND = "refund", _("Refund")
    OTHER = "other", _("Other")


class Correction(models.Model):
    """A requested or applied change to a customer or a line, with before, after and reason.
    Balance and expiry adjustments are corrections too: remaining balances add their deltas."""

    Kind = CorrectionKind

    Status = CorrectionStatus

    STATUS_TRANSITIONS = transitions(
        {"requested": {"applied", "rejected"}, "applied": set(), "rejected": set()}
    )

    Reason = CorrectionReason

    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.PROTECT, related_name="corrections"
    )
    line = models.ForeignKey(
        SimLine,
        verbose_name=_("line"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="corrections",
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.REQUESTED)
    field = models.CharField(_("field"), max_length=64, blank=True)
    before = models.JSONField(_("before"), default=dict, blank=True)
    after = models.JSONField(_("after"), default=dict, blank=True)
    data_mb_delta = models.IntegerField(_("data adjustment (MB)"), default=0)
    voice_minutes_delta = models.IntegerField(_("minutes adjustment"), default=0)
    sms_delta = models.IntegerField(_("SMS adjustment"), default=0)
    expiry_delta = models.DurationField(_("expiry adjustment"), default=timedelta(0))
    reason = models.CharField(_("reason"), max_length=32, choices=Reason.choices)
    comment = models.TextField(_("comment"), blank=True)
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("requested by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("decided by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    decision_comment = models.TextField(_("decision comment"), blank=True)
    reverses = models.OneToOneField(
        "self",
        verbose_name=_("reverses"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="reversed_by",
    )
    created_at = models.DateTimeField(_("requested"), auto_now_add=True)
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)

    class Meta:
        verbose_name = _("correction")
        verbose_name_plural = _("corrections")
        permissions = [("approve_correction", _("Can approve adjustments above the limits"))]
        ordering = ["-id"]
        indexes = [models.Index(fields=["status", "created_at"], name="correction_queue_idx")]
        constraints = [
            choices_check("kind", CorrectionKind, "correction_kind_valid"),
            choices_check("status", CorrectionStatus, "correction_status_valid"),
            choices_check("reason", CorrectionReason, "correction_reason_valid"),
            choices_check("channel", Channel, "correction_channel_valid"),
            models.CheckConstraint(
                condition=Q(kind__in=["details"]) | Q(line__isnull=False),
                name="correction_line_required",
                violation_error_message=_("Choose the line this correction applies to."),
            ),
            models.CheckConstraint(
                condition=Q(status="requested", decided_at__isnull=True)
                | (~Q(status="requested") & Q(decided_at__isnull=False)),
                name="correction_decided_when_closed",
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} #{self.pk}"


class ContactField(models.TextChoices):
    EMAIL = "email", _("e-mail")
    PHONE = "phone", _("phone")


class ContactVerification(models.Model):
    """A new contact e-mail or phone number a customer typed, waiting for the code sent to it:
    the customer's record changes only once the code comes back."""

    Field = ContactField

    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="contact_verifications"
    )
    field = models.CharField(_("field"), max_length=8, choices=Field.choices)
    new_value = models.CharField(_("new value"), max_length=254)
    code_hash = models.CharField(max_length=64)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    expires_at = models.DateTimeField(_("expires"))
    confirmed_at = models.DateTimeField(_("confirmed"), null=True, blank=True)

    class Meta:
        verbose_name = _("contact verification")
        verbose_name_plural = _("contact verifications")
        ordering = ["-id"]
        indexes = [models.Index(fields=["customer", "created_at"], name="contact_verif_customer_idx")]
        constraints = [choices_check("field", ContactField, "contact_verif_field_valid")]

    def __str__(self):
        return f"{self.get_field_display()} → {self.new_value}"


class AuditEntryQuerySet(models.QuerySet):
    """Audit entries are append-only: bulk updates and deletes are refused."""

    def update(self, **kwargs):
        raise PermissionError("audit entries are append-only")

    def delete(self):
        raise PermissionError("audit entries are append-only")

    _raw_delete = delete


class AuditEntry(models.Model):
    """One action on money, entitlement or customer data: who, what, on which object, before
    and after, why, from which request. Written by ``accounts.audit.audit_record`` only."""

    occurred_at = models.DateTimeField(_("when"), default=timezone.now, db_index=True)
    actor_kind = models.CharField(_("actor kind"), max_length=10, choices=ActorKind.choices)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    actor_partner = models.ForeignKey(
        Partner,
        verbose_name=_("partner"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    actor_label = models.CharField(_("actor"), max_length=150, blank=True)
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    action = models.CharField(_("action"), max_length=64, db_index=True)
    content_type = models.ForeignKey(
        ContentType, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    object_id = models.CharField(_("object id"), max_length=64, blank=True)
    object_repr = models.CharField(_("object"), max_length=200, blank=True)
    changes = models.JSONField(_("changes"), default=dict, blank=True)
    reason = models.TextField(_("reason"), blank=True)
    request_id = models.CharField(_("request id"), max_length=64, blank=True)

    objects = AuditEntryQuerySet.as_manager()

    class Meta:
        # Django's own machinery (cascades, related managers) uses the base manager: make it
        # the append-only one too.
        base_manager_name = "objects"
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit entries")
        ordering = ["-occurred_at", "-id"]
        indexes = [models.Index(fields=["content_type", "object_id", "occurred_at"], name="audit_object_idx")]
        constraints = [
            choices_check("actor_kind", ActorKind, "audit_actor_kind_valid"),
            choices_check("channel", Channel, "audit_channel_valid"),
        ]

    def __str__(self):
        return f"{self.action} {self.object_repr}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise PermissionError("audit entries are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("audit entries are append-only")
