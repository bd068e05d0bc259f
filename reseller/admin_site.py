"""The back office's admin site: the stock one plus work queues on the index page."""

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.urls import reverse
from django.utils.translation import gettext_lazy as _


class BackOfficeAdminSite(admin.AdminSite):
    site_header = _("SIM reseller back office")
    site_title = _("SIM reseller back office")
    index_title = _("Customers, lines, renewals and payments")

    def index(self, request, extra_context=None):
        extra = {"work_queues": work_queues(request.user)}
        return super().index(request, {**extra, **(extra_context or {})})


def work_queues(user) -> list[dict]:
    """Counts of what is waiting for staff, each an indexed query, shown to the roles that
    can act on it."""
    from accounts.models import Correction
    from payments.models import FailedPaymentCase
    from plans.activation import stuck_renewals

    queues = []
    if user.has_perm("plans.view_renewal"):
        queues.append(
            {
                "label": _("Paid renewals not active after 24 hours"),
                "count": stuck_renewals().count(),
                "url": reverse("admin:plans_renewal_changelist") + "?queue=stuck",
                "urgent": True,
            }
        )
    if user.has_perm("payments.view_failedpaymentcase"):
        queues.append(
            {
                "label": _("Open failed-payment cases"),
                "count": FailedPaymentCase.objects.filter(status=FailedPaymentCase.Status.OPEN).count(),
                "url": reverse("admin:payments_failedpaymentcase_changelist") + "?status__exact=open",
                "urgent": False,
            }
        )
    if user.has_perm("payments.view_payment"):
        from payments.models import Payment

        queues.append(
            {
                "label": _("Payments parked for review"),
                "count": Payment.objects.exclude(review_reason="").count(),
                "url": reverse("admin:payments_payment_changelist") + "?queue=review",
                "urgent": True,
            }
        )
    if user.has_perm("payments.view_refund"):
        from payments.models import Refund

        queues.append(
            {
                "label": _("Failed refunds"),
                "count": Refund.objects.filter(status=Refund.Status.FAILED).count(),
                "url": reverse("admin:payments_refund_changelist") + "?status__exact=failed",
                "urgent": True,
            }
        )
    if user.has_perm("payments.view_dispute"):
        from payments.models import Dispute

        queues.append(
            {
                "label": _("Open disputes"),
                "count": Dispute.objects.filter(closed_at__isnull=True).count(),
                "url": reverse("admin:payments_dispute_changelist") + "?status__exact=needs_response",
                "urgent": True,
            }
        )
    if user.has_perm("accounts.view_correction"):
        queues.append(
            {
                "label": _("Correction requests to decide"),
                "count": Correction.objects.filter(status=Correction.Status.REQUESTED).count(),
                "url": reverse("admin:accounts_correction_changelist") + "?status__exact=requested",
                "urgent": False,
            }
        )
    return queues


class BackOfficeAdminConfig(AdminConfig):
    default_site = "reseller.admin_site.BackOfficeAdminSite"
