import uuid

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import OuterRef, Q, Subquery, Sum
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.models import Partner
from accounts.search import payment_filter
from payments.admin_forms import RefundForm
from payments.declines import decline_message
from payments.followup import ContactOutcome
from payments.models import (
    MANUAL_METHODS,
    Dispute,
    FailedPaymentCase,
    PartnerWallet,
    Payment,
    ProviderEvent,
    ReconciliationRun,
    Refund,
    SavedPaymentMethod,
    WalletEntry,
)
from payments.refunds import refund_request, refund_suggested, refundable
from payments.wallet import TOP_UP_PERMISSION, wallet_top_up
from reseller.actors import Actor
from reseller.admin_tools import (
    NoDeleteAdmin,
    ReadOnlyAdmin,
    ReadOnlyInline,
    SmartSearchMixin,
    money,
    queue_filter,
)
from reseller.errors import DomainError


def refunded_total_subquery():
    """Pending and succeeded refunds of the outer payment, evaluated only for the rows shown
    (a join with GROUP BY would aggregate the whole table before the page is cut)."""
    return Subquery(
        Refund.objects.filter(
            payment=OuterRef("pk"), status__in=[Refund.Status.PENDING, Refund.Status.SUCCEEDED]
        )
        .order_by()
        .values("payment")
        .annotate(total=Sum("amount"))
        .values("total")
    )


class RefundInline(ReadOnlyInline):
    model = Refund
    fields = ["id", "amount", "currency", "status", "reason", "entitlement", "requested_by", "created_at"]
    show_change_link = True

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("requested_by")


class DisputeInline(ReadOnlyInline):
    model = Dispute
    fields = ["stripe_dispute_id", "amount", "currency", "status", "reason", "evidence_due_by", "closed_at"]


NeedsAttentionFilter = queue_filter(
    _("needs attention"), "queue", _("Parked for review"), ~Q(review_reason="")
)


@admin.register(Payment)
class PaymentAdmin(SmartSearchMixin, ReadOnlyAdmin):
    """Payments are written by the payment services (Stripe, manual) only. Staff search them
    by receipt number, ICCID, phone, e-mail, customer name or Stripe PaymentIntent id."""

    search_filter = payment_filter
    search_help_text = _(
        "Receipt number, ICCID, phone, e-mail, customer name, transfer reference, or a Stripe "
        "PaymentIntent, charge or refund id (pi_…, ch_…, re_…)."
    )
    list_display = ["__str__", "customer", "amount_display", "method", "status", "paid_at", "refunded"]
    list_select_related = ["customer"]
    # No "currency": listing its values scans the table.
    list_filter = [NeedsAttentionFilter, "status", "method"]
    search_fields = ["=receipt_number"]
    inlines = [RefundInline, DisputeInline]
    readonly_fields = ["customer_message"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(refunded_total=refunded_total_subquery())

    @admin.display(description=_("message shown to the customer"))
    def customer_message(self, obj):
        return decline_message(obj.failure_message) or "—"

    def get_urls(self):
        custom = [
            path(
                "<path:object_id>/refund/",
                self.admin_site.admin_view(self.refund_view),
                name="payments_payment_refund",
            ),
            path(
                "<path:object_id>/receipt.pdf",
                self.admin_site.admin_view(self.receipt_view),
                name="payments_payment_receipt",
            ),
        ]
        return custom + super().get_urls()

    def has_refund_permission(self, request) -> bool:
        return request.user.has_perm("payments.refund_payment")

    def change_view(self, request, object_id, form_url="", extra_context=None):
        payment = self.get_object(request, object_id)
        extra_context = {
            **(extra_context or {}),
            "can_refund": bool(
                payment
                and payment.status == Payment.Status.SUCCEEDED
                and self.has_refund_permission(request)
                and refundable(payment) > 0
            ),
            "has_receipt": bool(payment and payment.receipt_number),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def refund_view(self, request, object_id):
        """Refund a payment, in full or in part (Billing and Manager roles)."""
        payment = self.get_object(request, object_id)
        if payment is None:
            raise Http404
        if not self.has_refund_permission(request):
            raise PermissionDenied
        suggestion = refund_suggested(payment)
        form = RefundForm(request.POST or None, payment=payment, suggested=suggestion.amount)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                refund = refund_request(
                    payment=payment,
                    amount=data["amount"],
                    reason=data["reason"],
                    entitlement=data["entitlement"],
                    comment=data["comment"],
                    manual_reference=data.get("manual_reference", ""),
                    idempotency_key=f"admin:{data['idempotency_key']}",
                    actor=Actor.staff(request.user),
                )
            except DomainError as error:
                form.add_error(None, error.message)
            else:
                level = messages.SUCCESS if refund.status == Refund.Status.SUCCEEDED else messages.INFO
                self.message_user(
                    request,
                    gettext("Refund of %(amount)s: %(status)s.")
                    % {
                        "amount": money(refund.amount, refund.currency),
                        "status": refund.get_status_display(),
                    },
                    level,
                )
                return redirect("admin:payments_payment_change", payment.pk)
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Refund %(payment)s") % {"payment": payment},
            "opts": self.model._meta,
            "original": payment,
            "form": form,
            "paid": money(payment.amount, payment.currency),
            "refundable": money(refundable(payment), payment.currency),
            "suggestion": suggestion,
            "manual": payment.method in MANUAL_METHODS,
        }
        return TemplateResponse(request, "admin/payments/payment/refund.html", context)

    def receipt_view(self, request, object_id):
        payment = self.get_object(request, object_id)
        if payment is None or not payment.receipt_number:
            raise Http404
        from payments.receipt_pdf import receipt_pdf

        language = request.GET.get("language") or payment.customer.language
        response = HttpResponse(receipt_pdf(payment, language=language), content_type="application/pdf")
        response["Content-Disposition"] = f'inline; filename="{payment.receipt_number}.pdf"'
        return response

    @admin.display(description=_("amount"), ordering="amount")
    def amount_display(self, obj):
        return money(obj.amount, obj.currency)

    @admin.display(description=_("refunded"))
    def refunded(self, obj):
        return money(obj.refunded_total, obj.currency) if obj.refunded_total else "—"


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "payment",
        "amount_display",
        "status",
        "reason",
        "entitlement",
        "requested_by",
        "created_at",
    ]
    list_select_related = ["payment", "requested_by"]
    list_filter = ["status", "reason", "entitlement"]
    search_fields = ["=payment__receipt_number", "=stripe_refund_id"]

    @admin.display(description=_("amount"), ordering="amount")
    def amount_display(self, obj):
        return money(obj.amount, obj.currency)


class FailedPaymentCaseForm(forms.ModelForm):
    add_note = forms.CharField(
        label=_("add a note"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
    )
    contact_outcome = forms.ChoiceField(
        label=_("outcome of a contact"),
        required=False,
        choices=[("", "---------"), *ContactOutcome.choices],
        help_text=_("How the call or message went; the note above says more."),
    )

    class Meta:
        model = FailedPaymentCase
        fields = ["assigned_to"]


@admin.register(FailedPaymentCase)
class FailedPaymentCaseAdmin(NoDeleteAdmin):
    """The follow-up queue: open cases oldest first, with what Billing needs to call or
    write to the customer, and the actions that settle a case."""

    list_display = [
        "id",
        "age",
        "customer",
        "contact",
        "language",
        "amount",
        "status",
        "decline",
        "attempts",
        "next_retry_at",
        "assigned_to",
    ]
    list_select_related = ["payment__customer", "renewal", "assigned_to"]
    list_filter = ["status", "assigned_to"]
    ordering = ["opened_at"]
    search_fields = ["=payment__receipt_number", "=renewal__line__iccid"]
    autocomplete_fields = ["assigned_to"]
    form = FailedPaymentCaseForm
    fields = [
        "renewal",
        "payment",
        "status",
        "decline",
        "attempts",
        "next_retry_at",
        "grace_ends_at",
        "customer_notified_at",
        "assigned_to",
        "notes",
        "add_note",
        "contact_outcome",
        "opened_at",
        "closed_at",
        "pay_link",
    ]
    readonly_fields = [
        "notes",  # added to, never rewritten: payments.followup.case_note_add
        "renewal",
        "payment",
        "status",
        "decline",
        "attempts",
        "next_retry_at",
        "grace_ends_at",
        "customer_notified_at",
        "opened_at",
        "closed_at",
        "pay_link",
    ]
    actions = ["retry_now", "send_payment_link", "write_off", "cancel"]

    def has_add_permission(self, request):
        return False

    def get_urls(self):
        figures = path(
            "figures/",
            self.admin_site.admin_view(self.figures_view),
            name="payments_failedpaymentcase_figures",
        )
        return [figures, *super().get_urls()]

    def figures_view(self, request):
        """Recovery rate, amounts recovered per currency and median time to recovery: on a
        page of their own, so the queue itself stays as cheap as any changelist."""
        from datetime import timedelta

        from django.utils import timezone

        from payments.dunning import dunning_figures

        if not self.has_view_permission(request):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Failed-payment follow-up: the last 90 days"),
            "opts": self.model._meta,
            "figures": dunning_figures(since=timezone.now() - timedelta(days=90)),
        }
        return TemplateResponse(request, "admin/payments/failedpaymentcase/figures.html", context)

    @admin.display(description=_("open for"), ordering="opened_at")
    def age(self, obj):
        from django.utils.timesince import timesince

        return timesince(obj.opened_at)

    @admin.display(description=_("customer"))
    def customer(self, obj):
        return obj.payment.customer

    @admin.display(description=_("contact"))
    def contact(self, obj):
        customer = obj.payment.customer
        return " · ".join(filter(None, [customer.email, customer.phone]))

    @admin.display(description=_("language"))
    def language(self, obj):
        return obj.payment.customer.get_language_display()

    @admin.display(description=_("amount"))
    def amount(self, obj):
        return money(obj.renewal.price_amount, obj.renewal.currency)

    @admin.display(description=_("last decline"))
    def decline(self, obj):
        from payments.declines import customer_message_for

        return f"{obj.last_decline_code}: {decline_message(customer_message_for(obj.last_decline_code))}"

    @admin.display(description=_("link to pay another way"))
    def pay_link(self, obj):
        from payments.links import renewal_pay_url

        if obj.status != FailedPaymentCase.Status.OPEN:
            return "—"
        return renewal_pay_url(obj.renewal)

    def _each_open(self, request, queryset, act) -> None:
        done = 0
        for case in queryset.filter(status=FailedPaymentCase.Status.OPEN).select_related("renewal"):
            try:
                act(case)
            except DomainError as error:
                self.message_user(request, f"#{case.pk}: {error.message}", messages.ERROR)
            else:
                done += 1
        self.message_user(request, gettext("%(count)s case(s) done.") % {"count": done}, messages.SUCCESS)

    def save_model(self, request, obj, form, change):
        """The assignee is saved as edited; a note and the outcome of a contact go through
        their services (dated, signed and audited)."""
        from payments.followup import case_contact_record, case_note_add

        if "assigned_to" in form.changed_data:
            obj.save(update_fields=["assigned_to"])
        actor = Actor.staff(request.user)
        note, outcome = form.cleaned_data.get("add_note", ""), form.cleaned_data.get("contact_outcome")
        try:
            if outcome:
                case_contact_record(case=obj, outcome=outcome, note=note, actor=actor)
            elif note.strip():
                case_note_add(case=obj, text=note, actor=actor)
        except DomainError as error:
            self.message_user(request, error.message, messages.ERROR)

    @admin.action(description=_("Retry the payment now"), permissions=["change"])
    def retry_now(self, request, queryset):
        from payments.followup import case_retry_now

        self._each_open(
            request, queryset, lambda case: case_retry_now(case=case, actor=Actor.staff(request.user))
        )

    @admin.action(description=_("Send the customer a link to pay another way"), permissions=["change"])
    def send_payment_link(self, request, queryset):
        from payments.followup import case_payment_link_send

        self._each_open(
            request, queryset, lambda case: case_payment_link_send(case=case, actor=Actor.staff(request.user))
        )

    @admin.action(description=_("Write off (the notes say why)"), permissions=["change"])
    def write_off(self, request, queryset):
        from payments.dunning import case_write_off

        self._each_open(
            request,
            queryset,
            lambda case: case_write_off(case=case, actor=Actor.staff(request.user), note=case.notes),
        )

    @admin.action(description=_("Cancel the renewal (the notes say why)"), permissions=["change"])
    def cancel(self, request, queryset):
        from payments.dunning import case_cancel

        self._each_open(
            request,
            queryset,
            lambda case: case_cancel(case=case, actor=Actor.staff(request.user), note=case.notes),
        )


UnprocessedFilter = queue_filter(
    _("processing"), "unprocessed", _("Not processed yet"), Q(processed_at__isnull=True)
)


@admin.register(ProviderEvent)
class ProviderEventAdmin(ReadOnlyAdmin):
    list_display = [
        "received_at",
        "provider",
        "type",
        "event_id",
        "livemode",
        "processed_at",
        "attempts",
        "error",
    ]
    list_filter = [UnprocessedFilter, "livemode"]
    search_fields = ["=event_id", "=type"]


@admin.register(Dispute)
class DisputeAdmin(ReadOnlyAdmin):
    """Chargebacks to answer on Stripe before their evidence deadline, soonest first."""

    list_display = ["stripe_dispute_id", "payment", "amount_display", "status", "reason", "evidence_due_by"]
    list_select_related = ["payment"]
    list_filter = ["status"]
    search_fields = ["=stripe_dispute_id", "=payment__receipt_number"]

    @admin.display(description=_("amount"), ordering="amount")
    def amount_display(self, obj):
        return money(obj.amount, obj.currency)


@admin.register(SavedPaymentMethod)
class SavedPaymentMethodAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "customer", "exp_month", "exp_year", "created_at", "removed_at"]
    list_select_related = ["customer"]
    search_fields = ["=stripe_payment_method_id"]


@admin.register(ReconciliationRun)
class ReconciliationRunAdmin(ReadOnlyAdmin):
    list_display = [
        "started_at",
        "since",
        "intents_checked",
        "refunds_checked",
        "repaired_count",
        "differences_count",
        "error",
    ]

    @admin.display(description=_("repaired"))
    def repaired_count(self, obj):
        return len(obj.repaired)

    @admin.display(description=_("differences"))
    def differences_count(self, obj):
        return len(obj.differences)


# --- Partner wallets ---------------------------------------------------------------------------


class WalletTopUpForm(forms.Form):
    partner = forms.ModelChoiceField(label=_("partner"), queryset=Partner.objects.order_by("name"))
    amount = forms.DecimalField(label=_("amount received"), max_digits=15, decimal_places=3, min_value=0)
    reason = forms.CharField(
        label=_("reason"),
        max_length=300,
        help_text=_("Where the money comes from: the partner's bank transfer reference, for instance."),
    )
    # One key per rendering of the form: a double submit tops up once.
    idempotency_key = forms.CharField(widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["idempotency_key"].initial = uuid.uuid4().hex


class WalletEntryInline(ReadOnlyInline):
    model = WalletEntry
    fields = [
        "created_at",
        "kind",
        "amount",
        "balance_after",
        "renewal",
        "payment",
        "refund",
        "actor_label",
        "reason",
    ]
    ordering = ["-id"]

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("accounts.view_partner")


@admin.register(PartnerWallet)
class PartnerWalletAdmin(ReadOnlyAdmin):
    """Wallets and their ledgers, read-only; Managers top them up with the form (the service
    writes the ledger entry, the balance and the audit entry together)."""

    list_display = ["partner", "balance", "currency", "low_balance_threshold", "updated_at"]
    list_select_related = ["partner"]
    search_fields = ["partner__name", "partner__code"]
    fields = ["partner", "currency", "balance", "low_balance_threshold", "created_at", "updated_at"]
    inlines = [WalletEntryInline]

    def has_view_permission(self, request, obj=None):
        # Every staff role sees partners, and so their wallets (roles.py has no wallet rights).
        return request.user.has_perm("accounts.view_partner")

    def has_top_up_permission(self, request) -> bool:
        return request.user.has_perm(TOP_UP_PERMISSION)

    def get_urls(self):
        top_up = path(
            "top-up/", self.admin_site.admin_view(self.top_up_view), name="payments_partnerwallet_top_up"
        )
        return [top_up, *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "can_top_up": self.has_top_up_permission(request)}
        return super().changelist_view(request, extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "can_top_up": self.has_top_up_permission(request)}
        return super().change_view(request, object_id, form_url, extra_context)

    def top_up_view(self, request):
        """Record money a partner sent us into its wallet (Managers); opens the wallet at the
        partner's first top-up."""
        if not self.has_top_up_permission(request):
            raise PermissionDenied
        form = WalletTopUpForm(request.POST or None, initial={"partner": request.GET.get("partner")})
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            partner = data["partner"]
            try:
                entry = wallet_top_up(
                    partner=partner,
                    amount=data["amount"],
                    currency=getattr(getattr(partner, "wallet", None), "currency", partner.default_currency),
                    reason=data["reason"],
                    idempotency_key=f"admin:{data['idempotency_key']}",
                    actor=Actor.staff(request.user),
                )
            except DomainError as error:
                form.add_error(None, error.message)
            else:
                self.message_user(
                    request,
                    gettext("%(partner)s's wallet now holds %(balance)s.")
                    % {"partner": partner, "balance": money(entry.balance_after, entry.wallet.currency)},
                    messages.SUCCESS,
                )
                return redirect("admin:payments_partnerwallet_change", entry.wallet_id)
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Top up a partner's wallet"),
            "opts": self.model._meta,
            "form": form,
        }
        return TemplateResponse(request, "admin/payments/partnerwallet/top_up.html", context)
