from django.contrib import admin
from django.db.models import OuterRef, Subquery, Sum
from django.utils.translation import gettext_lazy as _

from accounts.search import payment_filter
from payments.models import FailedPaymentCase, Payment, ProviderEvent, Refund
from reseller.admin_tools import NoDeleteAdmin, ReadOnlyAdmin, ReadOnlyInline, SmartSearchMixin, money


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


@admin.register(Payment)
class PaymentAdmin(SmartSearchMixin, ReadOnlyAdmin):
    """Payments are written by the payment services (Stripe, manual) only. Staff search them
    by receipt number, ICCID, phone, e-mail, customer name or Stripe PaymentIntent id."""

    search_filter = payment_filter
    search_help_text = _(
        "Receipt number, ICCID, phone, e-mail, customer name or Stripe PaymentIntent (pi_…)."
    )
    list_display = ["__str__", "customer", "amount_display", "method", "status", "paid_at", "refunded"]
    list_select_related = ["customer"]
    list_filter = ["status", "method"]  # no "currency": listing its values scans the table
    search_fields = ["=receipt_number"]
    inlines = [RefundInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(refunded_total=refunded_total_subquery())

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


@admin.register(FailedPaymentCase)
class FailedPaymentCaseAdmin(NoDeleteAdmin):
    list_display = [
        "id",
        "customer",
        "amount",
        "status",
        "last_decline_code",
        "attempts",
        "next_retry_at",
        "assigned_to",
        "opened_at",
    ]
    list_select_related = ["payment__customer", "assigned_to"]
    list_filter = ["status"]
    search_fields = ["=payment__receipt_number", "=renewal__line__iccid"]
    autocomplete_fields = ["assigned_to"]
    readonly_fields = [
        "renewal",
        "payment",
        "status",
        "last_decline_code",
        "attempts",
        "next_retry_at",
        "grace_ends_at",
        "customer_notified_at",
        "opened_at",
        "closed_at",
    ]

    def has_add_permission(self, request):
        return False

    @admin.display(description=_("customer"))
    def customer(self, obj):
        return obj.payment.customer

    @admin.display(description=_("amount"))
    def amount(self, obj):
        return money(obj.payment.amount, obj.payment.currency)


@admin.register(ProviderEvent)
class ProviderEventAdmin(ReadOnlyAdmin):
    list_display = ["received_at", "provider", "type", "event_id", "livemode", "processed_at", "attempts"]
    list_filter = ["livemode"]
    search_fields = ["=event_id", "=type"]
