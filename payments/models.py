"""Money in and out: payments, refunds, failed-payment follow-up, Stripe's webhook inbox and
the gapless receipt numbering."""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from reseller.fields import (
    CurrencyField,
    MoneyAmountField,
    choices_check,
    currency_check,
    non_negative_check,
    positive_check,
)
from reseller.money import quantize
from reseller.states import transitions


class PaymentMethod(models.TextChoices):
    CARD = "card", _("Card")
    APPLE_PAY = "apple_pay", _("Apple Pay")
    GOOGLE_PAY = "google_pay", _("Google Pay")
    ALIPAY = "alipay", _("Alipay")
    WECHAT_PAY = "wechat_pay", _("WeChat Pay")
    PAYPAL = "paypal", _("PayPal")
    CASH = "cash", _("Cash")
    BANK_TRANSFER = "bank_transfer", _("Bank transfer")
    PARTNER_WALLET = "partner_wallet", _("Partner wallet")


MANUAL_METHODS = {PaymentMethod.CASH, PaymentMethod.BANK_TRANSFER}


class PaymentStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    REQUIRES_ACTION = "requires_action", _("Needs the customer's authentication")
    PROCESSING = "processing", _("Processing")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")


class Payment(models.Model):
    Status = PaymentStatus

    # Statuses only move forward: a late "failed" event never overwrites "succeeded".
    STATUS_TRANSITIONS = transitions(
        {
            "pending": {"requires_action", "processing", "succeeded", "failed", "cancelled"},
            "requires_action": {"processing", "succeeded", "failed", "cancelled"},
            "processing": {"succeeded", "failed", "requires_action"},
            # A declined attempt is not the end of a PaymentIntent: the customer may try again
            # with another card on the same intent, which may then succeed.
            "failed": {"requires_action", "processing", "succeeded", "cancelled"},
            "succeeded": set(),
            "cancelled": set(),
        }
    )

    #: Statuses in which the customer may still complete the payment.
    OPEN_STATUSES = ("pending", "requires_action", "processing", "failed")

    renewal = models.ForeignKey(
        "plans.Renewal",
        verbose_name=_("renewal"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="payments",
    )
    customer = models.ForeignKey(
        "accounts.Customer",
        verbose_name=_("customer"),
        on_delete=models.PROTECT,
        related_name="payments",
    )
    amount = MoneyAmountField(_("amount"))
    currency = CurrencyField()
    method = models.CharField(
        pgettext_lazy("payment", "method"), max_length=16, choices=PaymentMethod.choices
    )
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    stripe_payment_intent_id = models.CharField(_("Stripe PaymentIntent"), max_length=255, blank=True)
    stripe_charge_id = models.CharField(_("Stripe charge"), max_length=255, blank=True)
    manual_reference = models.CharField(
        _("reference"),
        max_length=100,
        blank=True,
        help_text=_("Bank transfer reference or cash receipt number."),
    )
    decline_code = models.CharField(_("decline code"), max_length=64, blank=True)
    failure_message = models.TextField(_("message for the customer"), blank=True)
    receipt_number = models.CharField(_("receipt number"), max_length=20, null=True, blank=True, unique=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recorded by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    paid_at = models.DateTimeField(_("paid"), null=True, blank=True)
    #: When the provider's state was last applied (Stripe's event or object time): an event
    #: older than this is not trusted and the object is fetched again.
    provider_synced_at = models.DateTimeField(_("provider state as of"), null=True, blank=True)
    #: Non-empty: the provider reported something we will not act on alone (an amount or
    #: currency that is not ours, money taken for a closed renewal). Billing staff decide.
    review_reason = models.CharField(_("needs review because"), max_length=300, blank=True)
    receipt_sent_at = models.DateTimeField(_("receipt e-mailed"), null=True, blank=True)
    #: A worker is sending the receipt until then; past it, the worker is presumed lost (killed
    #: between its claim and the send) and the catch-up job sends the receipt.
    receipt_claimed_until = models.DateTimeField(_("receipt being sent until"), null=True, blank=True)
    #: Where the receipt goes when someone other than the customer paid (the public top-up);
    #: blank: the customer's own e-mail.
    receipt_email = models.EmailField(_("receipt e-mailed to"), blank=True)
    #: The language the payer read the top-up page in: their receipt is written in it.
    receipt_language = models.CharField(_("receipt language"), max_length=10, blank=True)
    #: Charged without the customer present (auto-renew and its retries), on a saved method.
    off_session = models.BooleanField(_("charged automatically"), default=False)

    class Meta:
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["status", "created_at"], name="payment_status_created_idx"),
            models.Index(
                fields=["stripe_charge_id"], condition=~Q(stripe_charge_id=""), name="payment_charge_idx"
            ),
            models.Index(
                fields=["manual_reference"], condition=~Q(manual_reference=""), name="payment_manual_ref_idx"
            ),
            models.Index(fields=["created_at"], condition=~Q(review_reason=""), name="payment_review_idx"),
        ]
        constraints = [
            positive_check("amount", "payment_amount_positive"),
            currency_check("currency", "payment_currency_iso4217"),
            choices_check("status", PaymentStatus, "payment_status_valid"),
            choices_check("method", PaymentMethod, "payment_method_valid"),
            models.UniqueConstraint(
                fields=["stripe_payment_intent_id"],
                condition=~Q(stripe_payment_intent_id=""),
                name="payment_intent_unique",
            ),
            # Invariant 1: one renewal is paid by at most one payment.
            models.UniqueConstraint(
                fields=["renewal"],
                condition=Q(status="succeeded"),
                name="payment_one_success_per_renewal",
            ),
            models.CheckConstraint(
                condition=~Q(status="succeeded")
                | (Q(paid_at__isnull=False, receipt_number__isnull=False) & ~Q(receipt_number="")),
                name="payment_succeeded_has_receipt",
            ),
        ]

    def __str__(self):
        return self.receipt_number or f"payment #{self.pk}"


class RefundStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")


class RefundReason(models.TextChoices):
    CUSTOMER_REQUEST = "customer_request", _("Customer request")
    DUPLICATE = "duplicate", _("Duplicate payment")
    SERVICE_FAILURE = "service_failure", _("Service did not work")
    WRONG_PLAN = "wrong_plan", _("Wrong plan bought")
    FRAUD = "fraud", _("Fraudulent payment")
    GOODWILL = "goodwill", _("Goodwill gesture")
    OTHER = "other", _("Other")


class RefundEntitlement(models.TextChoices):
    KEEP = "keep", _("Keep the period")
    END_PERIOD = "end_period", _("End the period")
    DEDUCT_DATA = "deduct_data", _("Deduct the refunded share of data")


class Refund(models.Model):
    Status = RefundStatus

    # Stripe may report a succeeded refund failed later (the card's bank sent it back): the
    # money is then the customer's again to refund, and Billing sees it in the failed queue.
    # A refund we marked failed (Stripe refused it, or its answer was unreadable) that Stripe
    # then reports succeeded is recorded as succeeded: the provider's word on money is final.
    STATUS_TRANSITIONS = transitions(
        {"pending": {"succeeded", "failed"}, "succeeded": {"failed"}, "failed": {"succeeded"}}
    )

    Reason = RefundReason

    Entitlement = RefundEntitlement

    payment = models.ForeignKey(
        Payment, verbose_name=_("payment"), on_delete=models.PROTECT, related_name="refunds"
    )
    amount = MoneyAmountField(_("amount"))
    currency = CurrencyField()
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.PENDING)
    reason = models.CharField(_("reason"), max_length=20, choices=Reason.choices)
    comment = models.TextField(_("comment"), blank=True)
    entitlement = models.CharField(
        _("entitlement"), max_length=12, choices=Entitlement.choices, default=Entitlement.KEEP
    )
    stripe_refund_id = models.CharField(_("Stripe refund"), max_length=255, blank=True)
    #: How a manual refund was paid back (cash handed over, transfer reference).
    manual_reference = models.CharField(_("how it was paid back"), max_length=200, blank=True)
    idempotency_key = models.CharField(_("idempotency key"), max_length=255, unique=True)
    failure_reason = models.TextField(_("failure reason"), blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("requested by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_at = models.DateTimeField(_("requested"), auto_now_add=True)
    completed_at = models.DateTimeField(_("completed"), null=True, blank=True)
    #: The entitlement choice was carried out (once, when the refund succeeded).
    entitlement_applied_at = models.DateTimeField(_("entitlement handled"), null=True, blank=True)

    class Meta:
        verbose_name = _("refund")
        verbose_name_plural = _("refunds")
        ordering = ["-id"]
        permissions = [("refund_payment", _("Can refund payments"))]
        constraints = [
            positive_check("amount", "refund_amount_positive"),
            currency_check("currency", "refund_currency_iso4217"),
            choices_check("status", RefundStatus, "refund_status_valid"),
            choices_check("reason", RefundReason, "refund_reason_valid"),
            choices_check("entitlement", RefundEntitlement, "refund_entitlement_valid"),
            models.UniqueConstraint(
                fields=["stripe_refund_id"], condition=~Q(stripe_refund_id=""), name="refund_stripe_id_unique"
            ),
        ]
        indexes = [
            models.Index(fields=["created_at"], condition=Q(status="failed"), name="refund_failed_idx"),
            models.Index(fields=["created_at"], condition=Q(status="pending"), name="refund_pending_idx"),
        ]

    def __str__(self):
        return f"refund #{self.pk} {self.amount} {self.currency}"


class FailedPaymentCaseStatus(models.TextChoices):
    OPEN = "open", _("Open")
    RECOVERED = "recovered", _("Recovered")
    WRITTEN_OFF = "written_off", _("Written off")
    CANCELLED = "cancelled", _("Cancelled")


class FailedPaymentCase(models.Model):
    """Follow-up of a failed payment (dunning): retries, messages, a human when needed."""

    Status = FailedPaymentCaseStatus

    STATUS_TRANSITIONS = transitions(
        {
            "open": {"recovered", "written_off", "cancelled"},
            "recovered": set(),
            "written_off": set(),
            "cancelled": set(),
        }
    )

    renewal = models.ForeignKey(
        "plans.Renewal",
        verbose_name=_("renewal"),
        on_delete=models.PROTECT,
        related_name="failed_payment_cases",
    )
    payment = models.ForeignKey(
        Payment,
        verbose_name=_("failed payment"),
        on_delete=models.PROTECT,
        related_name="failed_payment_cases",
    )
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.OPEN)
    last_decline_code = models.CharField(_("last decline code"), max_length=64, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=1)
    next_retry_at = models.DateTimeField(_("next retry"), null=True, blank=True)
    grace_ends_at = models.DateTimeField(_("grace period ends"), null=True, blank=True)
    customer_notified_at = models.DateTimeField(_("customer told"), null=True, blank=True)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assigned to"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    notes = models.TextField(_("notes"), blank=True)
    opened_at = models.DateTimeField(_("opened"), auto_now_add=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)

    class Meta:
        verbose_name = _("failed-payment case")
        verbose_name_plural = _("failed-payment cases")
        ordering = ["-opened_at"]
        indexes = [
            models.Index(fields=["next_retry_at"], condition=Q(status="open"), name="dunning_next_retry_idx"),
            # The end-of-grace job: "open cases whose grace is over".
            models.Index(fields=["grace_ends_at"], condition=Q(status="open"), name="dunning_grace_idx"),
            # The queue, oldest first.
            models.Index(fields=["opened_at"], condition=Q(status="open"), name="dunning_open_age_idx"),
        ]
        constraints = [
            choices_check("status", FailedPaymentCaseStatus, "dunning_status_valid"),
            models.UniqueConstraint(
                fields=["renewal"], condition=Q(status="open"), name="dunning_one_open_case_per_renewal"
            ),
        ]

    def __str__(self):
        return f"case #{self.pk} ({self.get_status_display()})"


class ProviderEvent(models.Model):
    """Inbox of payment-provider webhooks: stored first, processed after, once per event id."""

    provider = models.CharField(_("provider"), max_length=20, default="stripe")
    event_id = models.CharField(_("event id"), max_length=255)
    type = models.CharField(_("type"), max_length=100)
    livemode = models.BooleanField(_("live mode"), default=False)
    payload = models.JSONField(_("payload"))
    received_at = models.DateTimeField(_("received"), auto_now_add=True)
    processed_at = models.DateTimeField(_("processed"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("processing attempts"), default=0)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        verbose_name = _("provider event")
        verbose_name_plural = _("provider events")
        ordering = ["-received_at"]
        indexes = [
            models.Index(
                fields=["received_at"], condition=Q(processed_at__isnull=True), name="event_unprocessed_idx"
            )
        ]
        constraints = [
            models.UniqueConstraint(fields=["provider", "event_id"], name="event_unique_per_provider")
        ]

    def __str__(self):
        return f"{self.type} {self.event_id}"


class ReceiptSequence(models.Model):
    """Last receipt number issued per year; locked row by row so numbers have no gaps."""

    year = models.PositiveSmallIntegerField(_("year"), primary_key=True)
    last_number = models.PositiveIntegerField(_("last number"), default=0)

    class Meta:
        verbose_name = _("receipt sequence")
        verbose_name_plural = _("receipt sequences")

    def __str__(self):
        return f"{self.year}: {self.last_number}"


class DisputeStatus(models.TextChoices):
    NEEDS_RESPONSE = "needs_response", _("Needs a response")
    UNDER_REVIEW = "under_review", _("Under review")
    WON = "won", _("Won")
    LOST = "lost", _("Lost")
    WARNING_CLOSED = "warning_closed", _("Closed (inquiry)")
    OTHER = "other", _("Other")


class Dispute(models.Model):
    """A chargeback opened by the customer's bank on a card payment. Billing staff answer it
    on Stripe before ``evidence_due_by``; this row keeps it visible in our back office."""

    Status = DisputeStatus
    OPEN_STATUSES = ("needs_response", "under_review", "other")

    payment = models.ForeignKey(
        Payment, verbose_name=_("payment"), on_delete=models.PROTECT, related_name="disputes"
    )
    stripe_dispute_id = models.CharField(_("Stripe dispute"), max_length=255, unique=True)
    amount = MoneyAmountField(_("amount"))
    currency = CurrencyField()
    reason = models.CharField(_("reason"), max_length=64, blank=True)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices)
    evidence_due_by = models.DateTimeField(_("evidence due by"), null=True, blank=True)
    opened_at = models.DateTimeField(_("opened"))
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)

    class Meta:
        verbose_name = _("dispute")
        verbose_name_plural = _("disputes")
        ordering = ["evidence_due_by"]
        indexes = [
            models.Index(
                fields=["evidence_due_by"], condition=Q(closed_at__isnull=True), name="dispute_open_due_idx"
            )
        ]
        constraints = [
            positive_check("amount", "dispute_amount_positive"),
            currency_check("currency", "dispute_currency_iso4217"),
            choices_check("status", DisputeStatus, "dispute_status_valid"),
        ]

    def __str__(self):
        return f"{self.stripe_dispute_id} ({self.get_status_display()})"


class SavedPaymentMethod(models.Model):
    """A reusable payment method saved on Stripe for a customer (through a SetupIntent), for
    auto-renew. Card data stays at Stripe: we keep what the customer needs to recognise it."""

    customer = models.ForeignKey(
        "accounts.Customer",
        verbose_name=_("customer"),
        on_delete=models.PROTECT,
        related_name="saved_payment_methods",
    )
    stripe_payment_method_id = models.CharField(_("Stripe payment method"), max_length=255, unique=True)
    kind = models.CharField(_("kind"), max_length=32, default="card")
    brand = models.CharField(_("brand"), max_length=32, blank=True)
    last4 = models.CharField(_("last 4 digits"), max_length=4, blank=True)
    exp_month = models.PositiveSmallIntegerField(_("expiry month"), null=True, blank=True)
    exp_year = models.PositiveSmallIntegerField(_("expiry year"), null=True, blank=True)
    created_at = models.DateTimeField(_("saved"), auto_now_add=True)
    removed_at = models.DateTimeField(_("removed"), null=True, blank=True)

    class Meta:
        verbose_name = _("saved payment method")
        verbose_name_plural = _("saved payment methods")
        ordering = ["-created_at"]
        indexes = [
            models.Index(
                fields=["customer"], condition=Q(removed_at__isnull=True), name="saved_method_active_idx"
            )
        ]

    def __str__(self):
        if self.last4:
            return f"{self.brand or self.kind} •••• {self.last4}"
        return self.kind


class ReconciliationRun(models.Model):
    """One comparison of Stripe's PaymentIntents and refunds with ours: what was repaired (a
    lost webhook's work done late) and what differs and needs a person."""

    started_at = models.DateTimeField(_("started"))
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    since = models.DateTimeField(_("objects created since"))
    intents_checked = models.PositiveIntegerField(_("payments checked"), default=0)
    refunds_checked = models.PositiveIntegerField(_("refunds checked"), default=0)
    repaired = models.JSONField(_("repaired"), default=list, blank=True)
    differences = models.JSONField(_("differences"), default=list, blank=True)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        verbose_name = _("reconciliation run")
        verbose_name_plural = _("reconciliation runs")
        ordering = ["-started_at"]

    def __str__(self):
        return f"reconciliation {self.started_at:%Y-%m-%d %H:%M}"


class WalletEntryKind(models.TextChoices):
    TOP_UP = "top_up", _("Top-up")
    RENEWAL_DEBIT = "renewal_debit", _("Renewal paid from the wallet")
    REFUND_CREDIT = "refund_credit", _("Refund credited to the wallet")


class PartnerWallet(models.Model):
    """A partner's prepaid balance, in the partner's currency: renewals the partner orders
    through the API are paid from it. The balance is the sum of the wallet's entries (the
    ledger); services change both together, under this row's lock (payments.wallet)."""

    partner = models.OneToOneField(
        "accounts.Partner", verbose_name=_("partner"), on_delete=models.PROTECT, related_name="wallet"
    )
    currency = CurrencyField()
    balance = MoneyAmountField(_("balance"), default=Decimal(0))
    #: Below this balance the partner is to be warned (the wallet.low_balance webhook).
    low_balance_threshold = MoneyAmountField(_("low-balance threshold"), default=Decimal(0))
    created_at = models.DateTimeField(_("opened"), auto_now_add=True)
    updated_at = models.DateTimeField(_("last changed"), auto_now=True)

    class Meta:
        verbose_name = _("partner wallet")
        verbose_name_plural = _("partner wallets")
        ordering = ["partner__name"]
        constraints = [
            # A debit that would take the wallet below zero fails in the database too.
            non_negative_check("balance", "wallet_balance_not_negative"),
            non_negative_check("low_balance_threshold", "wallet_threshold_not_negative"),
            currency_check("currency", "wallet_currency_iso4217"),
        ]

    def __str__(self):
        return f"{self.partner}: {quantize(self.balance, self.currency)} {self.currency}"


class WalletEntry(models.Model):
    """One line of a wallet's ledger: money in (top-up, refund credit) or out (a renewal paid),
    signed, with the balance it left. Entries are never changed nor deleted."""

    Kind = WalletEntryKind

    wallet = models.ForeignKey(
        PartnerWallet, verbose_name=_("wallet"), on_delete=models.PROTECT, related_name="entries"
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    amount = MoneyAmountField(_("amount"), help_text=_("Positive: money in; negative: money out."))
    balance_after = MoneyAmountField(_("balance after"))
    renewal = models.ForeignKey(
        "plans.Renewal",
        verbose_name=_("renewal"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="wallet_entries",
    )
    payment = models.ForeignKey(
        Payment,
        verbose_name=_("payment"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="wallet_entries",
    )
    refund = models.ForeignKey(
        Refund,
        verbose_name=_("refund"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="wallet_entries",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=pgettext_lazy("who did it", "by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    #: A top-up's key (one per rendering of the admin form): a double submit tops up once.
    idempotency_key = models.CharField(_("idempotency key"), max_length=100, blank=True)
    #: Who acted, as the audit trail names them (a partner key, a staff member, a job).
    actor_label = models.CharField(_("actor"), max_length=200)
    reason = models.TextField(_("reason"))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("wallet entry")
        verbose_name_plural = _("wallet entries")
        ordering = ["-id"]
        constraints = [
            choices_check("kind", WalletEntryKind, "wallet_entry_kind_valid"),
            non_negative_check("balance_after", "wallet_entry_balance_not_negative"),
            # Money in is positive, money out negative, and each names what it is for.
            models.CheckConstraint(
                condition=(Q(kind="top_up") & Q(amount__gt=Decimal(0)))
                | (
                    Q(kind="renewal_debit", amount__lt=Decimal(0))
                    & Q(renewal__isnull=False, payment__isnull=False)
                )
                | (Q(kind="refund_credit", amount__gt=Decimal(0)) & Q(refund__isnull=False)),
                name="wallet_entry_sign_and_subject",
            ),
            # A renewal is debited at most once, a refund credited at most once.
            models.UniqueConstraint(
                fields=["renewal"], condition=Q(kind="renewal_debit"), name="wallet_one_debit_per_renewal"
            ),
            models.UniqueConstraint(
                fields=["refund"], condition=Q(kind="refund_credit"), name="wallet_one_credit_per_refund"
            ),
            models.UniqueConstraint(
                fields=["wallet", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="wallet_entry_key_unique",
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.amount}"

    @property
    def currency(self) -> str:
        return self.wallet.currency
