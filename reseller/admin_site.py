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


def _queue_definitions():
    """(permission, label, count of what waits, changelist and filter, urgent), each count an
    indexed query."""
    from datetime import timedelta

    from django.utils import timezone

    from accounts.models import Correction
    from payments.models import Dispute, FailedPaymentCase, Payment, Refund
    from payments.provider_events import events_stuck
    from plans.activation import stuck_renewals

    month_ago = timezone.now() - timedelta(days=30)
    return [
        (
            "plans.view_renewal",
            _("Paid renewals not active after 24 hours"),
            stuck_renewals,
            "admin:plans_renewal_changelist",
            "?queue=stuck",
            True,
        ),
        (
            "payments.view_failedpaymentcase",
            _("Open failed-payment cases"),
            lambda: FailedPaymentCase.objects.filter(status=FailedPaymentCase.Status.OPEN),
            "admin:payments_failedpaymentcase_changelist",
            "?status__exact=open",
            False,
        ),
        (
            "payments.view_payment",
            _("Payments parked for review"),
            lambda: Payment.objects.exclude(review_reason=""),
            "admin:payments_payment_changelist",
            "?queue=yes",
            True,
        ),
        (
            "payments.view_refund",
            _("Refunds failed in the last 30 days"),
            lambda: Refund.objects.filter(status=Refund.Status.FAILED, created_at__gte=month_ago),
            "admin:payments_refund_changelist",
            "?status__exact=failed",
            True,
        ),
        (
            "payments.view_providerevent",
            _("Stripe events not processed"),
            events_stuck,
            "admin:payments_providerevent_changelist",
            "?unprocessed=yes",
            True,
        ),
        (
            "payments.view_dispute",
            _("Open disputes"),
            lambda: Dispute.objects.filter(closed_at__isnull=True),
            "admin:payments_dispute_changelist",
            "?closed_at__isnull=True",
            True,
        ),
        (
            "accounts.view_correction",
            _("Correction requests to decide"),
            lambda: Correction.objects.filter(status=Correction.Status.REQUESTED),
            "admin:accounts_correction_changelist",
            "?status__exact=requested",
            False,
        ),
    ]


def work_queues(user) -> list[dict]:
    """Counts of what is waiting for staff, shown to the roles that can act on it."""
    return [
        {"label": label, "count": waiting().count(), "url": reverse(changelist) + query, "urgent": urgent}
        for permission, label, waiting, changelist, query, urgent in _queue_definitions()
        if user.has_perm(permission)
    ]


class BackOfficeAdminConfig(AdminConfig):
    default_site = "reseller.admin_site.BackOfficeAdminSite"
