"""The back office's admin site: the stock one plus work queues on the index page, entered
only through the site's sign-in (allauth) and, for staff, a second factor (accounts.signin)."""

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _


class BackOfficeAdminSite(admin.AdminSite):
    site_header = _("SIM reseller back office")
    site_title = _("SIM reseller back office")
    index_title = _("Customers, lines, renewals and payments")

    def has_permission(self, request):
        """Every admin URL asks this (``admin_view``): active staff who passed the second
        factor in this session."""
        from accounts.signin import admin_entry_allowed

        return admin_entry_allowed(request)

    def login(self, request, extra_context=None):
        """The admin has no sign-in form of its own (it would skip the second factor): it sends
        people to the site's sign-in page, or a signed-in staff member to the step they miss."""
        from django.contrib.auth.views import redirect_to_login

        from accounts.signin import missing_second_factor_url

        next_url = request.GET.get(REDIRECT_FIELD_NAME, "")
        if not url_has_allowed_host_and_scheme(
            next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            next_url = reverse("admin:index", current_app=self.name)
        user = request.user
        if not user.is_authenticated:
            return redirect_to_login(next_url, reverse("account_login"))
        if self.has_permission(request):
            return HttpResponseRedirect(next_url)
        if not (user.is_active and user.is_staff):
            raise PermissionDenied
        return HttpResponseRedirect(missing_second_factor_url(request, next_url))

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
