from datetime import timedelta

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from accounts.admin_auto_renew import AutoRenewThroughServiceMixin
from accounts.models import AuditEntry, Correction, Customer, Partner, SimLine
from accounts.search import customer_filter, line_filter
from payments.manual import line_renew_with_manual_payment
from payments.models import Payment
from plans.admin_forms import PaymentLinkForm, RenewLineForm
from plans.balances import line_balance
from plans.models import Plan, Price, Renewal
from reseller.actors import Actor
from reseller.admin_filters import cached_choices_for
from reseller.admin_tools import AuditedAdmin, ReadOnlyAdmin, ReadOnlyInline, SmartSearchMixin, money
from reseller.errors import DomainError


@admin.register(Partner)
class PartnerAdmin(AuditedAdmin):
    list_display = ["name", "code", "status", "default_currency", "created_at"]
    list_filter = ["status"]
    search_fields = ["name", "code"]
    readonly_fields = ["created_at"]


class LineInline(ReadOnlyInline):
    model = SimLine
    fields = ["iccid", "msisdn", "kind", "status", "plan", "expires_at", "auto_renew"]
    show_change_link = True

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("plan")


@admin.register(Customer)
class CustomerAdmin(SmartSearchMixin, AuditedAdmin):
    search_filter = customer_filter
    search_help_text = _("Name, e-mail, phone, ICCID, MSISDN or receipt number (R2026-000123).")
    list_display = ["full_name", "email", "phone", "language", "partner", "created_at"]
    list_select_related = ["partner"]
    list_filter = ["language", ("partner", cached_choices_for(Partner))]
    search_fields = ["full_name"]  # shows the search box; the lookup itself is search_filter

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        # Who owns a customer (a partner) and which login reaches them decide what tenants
        # see: only Managers set them; others ask for an owner-move correction.
        if not request.user.has_perm("accounts.change_partner"):
            fields += ["partner", "user"]
        return fields

    autocomplete_fields = ["partner", "user"]
    readonly_fields = ["stripe_customer_id", "created_at", "updated_at"]
    inlines = [LineInline]
    fieldsets = [
        (None, {"fields": ["full_name", "legal_name", "email", "phone", "language", "timezone", "currency"]}),
        (_("Address"), {"fields": ["address_line1", "address_line2", "postal_code", "city", "country"]}),
        (_("Account"), {"fields": ["user", "partner", "stripe_customer_id", "created_at", "updated_at"]}),
    ]

    def save_model(self, request, obj, form, change):
        """A change of the customer's details is a correction (reason code, comment, before and
        after, in the corrections ledger); who owns the customer is a Manager's plain edit."""
        from accounts.details import STAFF_FIELDS, details_correct

        details = {name: form.cleaned_data[name] for name in form.changed_data if name in STAFF_FIELDS}
        if not change or not details:
            return super().save_model(request, obj, form, change)
        with transaction.atomic():
            details_correct(
                customer=obj,
                changes=details,
                reason=form.cleaned_data["change_reason"],
                comment=form.cleaned_data["change_comment"],
                actor=Actor.staff(request.user),
            )
            form.audited_elsewhere = set(details)
            super().save_model(request, obj, form, change)


class ExpiringFilter(admin.SimpleListFilter):
    title = _("expiry")
    parameter_name = "expiring"

    def lookups(self, request, model_admin):
        return [
            ("1", _("Within 24 hours")),
            ("7", _("Within 7 days")),
            ("past", _("Already expired")),
        ]

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() in {"1", "7"}:
            return queryset.filter(
                expires_at__gt=now, expires_at__lte=now + timedelta(days=int(self.value()))
            )
        if self.value() == "past":
            return queryset.filter(expires_at__lte=now)
        return queryset


class RenewalInline(ReadOnlyInline):
    model = Renewal
    fields = ["id", "plan", "channel", "status", "price", "period_start", "period_end", "paid_at"]
    show_change_link = True
    ordering = ["-id"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("plan")

    @admin.display(description=_("price"))
    def price(self, obj):
        return money(obj.price_amount, obj.currency)


@admin.register(SimLine)
class SimLineAdmin(AutoRenewThroughServiceMixin, SmartSearchMixin, AuditedAdmin):
    change_form_template = "admin/accounts/simline/change_form.html"
    search_filter = line_filter
    search_help_text = _("ICCID, MSISDN, customer name, e-mail, phone or receipt number.")
    list_display = ["iccid", "msisdn", "customer", "kind", "status_now", "plan", "expires_at", "auto_renew"]
    list_select_related = ["customer", "plan"]
    # Plans and partners as choices from the cache: no query of their own on each page.
    list_filter = [
        "status",
        "kind",
        ExpiringFilter,
        "auto_renew",
        ("plan", cached_choices_for(Plan)),
        ("customer__partner", cached_choices_for(Partner)),
    ]
    search_fields = ["iccid"]
    autocomplete_fields = ["customer"]
    inlines = [RenewalInline]
    readonly_fields = [
        "status",
        "plan",
        "expires_at",
        "activated_at",
        "created_at",
        "updated_at",
        "balance",
        "recent_usage",
        "payments",
    ]
    fieldsets = [
        (None, {"fields": ["customer", "iccid", "msisdn", "kind", "activation_code"]}),
        (_("Entitlement"), {"fields": ["status", "plan", "expires_at", "activated_at", "balance"]}),
        (_("Auto-renew"), {"fields": ["auto_renew", "auto_renew_plan", "auto_renew_payment_method"]}),
        (_("History"), {"fields": ["payments", "recent_usage", "created_at", "updated_at"]}),
    ]

    def get_readonly_fields(self, request, obj=None):
        # A SIM's identity and owner change through corrections (swap, move), never a free edit.
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            fields += ["customer", "iccid", "kind"]
        return fields

    def get_urls(self):
        custom = [
            path(
                "<path:object_id>/renew/",
                self.admin_site.admin_view(self.renew_view),
                name="accounts_simline_renew",
            ),
            path(
                "<path:object_id>/payment-link/",
                self.admin_site.admin_view(self.payment_link_view),
                name="accounts_simline_payment_link",
            ),
            path(
                "<path:object_id>/adjust/",
                self.admin_site.admin_view(self.adjust_view),
                name="accounts_simline_adjust",
            ),
            path(
                "<path:object_id>/swap/",
                self.admin_site.admin_view(self.swap_view),
                name="accounts_simline_swap",
            ),
            path(
                "<path:object_id>/move/",
                self.admin_site.admin_view(self.move_view),
                name="accounts_simline_move",
            ),
        ]
        return custom + super().get_urls()

    def has_renew_permission(self, request) -> bool:
        return request.user.has_perms(["plans.add_renewal", "payments.add_payment"])

    def add_view(self, request, form_url="", extra_context=None):
        """Register a line through the one line service (the API's too), with a reason: a
        physical SIM by its ICCID, or an eSIM ordered from the network (Managers)."""
        from django.core.exceptions import ValidationError

        from accounts.admin_forms import LineRegisterForm
        from accounts.line_registration import esim_issue, line_register

        if not self.has_add_permission(request):
            raise PermissionDenied
        form = LineRegisterForm(request.POST or None, initial={"customer": request.GET.get("customer")})
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            actor = Actor.staff(request.user)
            reason = f"{data['reason']}: {data['comment'].strip()}"
            try:
                if data["kind"] == SimLine.Kind.ESIM:
                    line = esim_issue(
                        customer=data["customer"],
                        idempotency_key=f"admin:{data['idempotency_key']}",
                        actor=actor,
                        reason=reason,
                    )
                else:
                    line = line_register(
                        customer=data["customer"],
                        iccid=data["iccid"],
                        msisdn=data["msisdn"] or None,
                        actor=actor,
                        reason=reason,
                    )
            except ValidationError as error:
                form.add_error(None, error)
            except DomainError as error:
                form.add_error(None, error.message)
            else:
                message = _("Line %(iccid)s registered, inactive until a plan is bought.")
                self.message_user(request, message % {"iccid": line.iccid})
                return redirect("admin:accounts_simline_change", line.pk)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Register a line"),
            "opts": self.model._meta,
            "form": form,
        }
        return TemplateResponse(request, "admin/accounts/simline/register.html", context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "can_renew": self.has_renew_permission(request)}
        return super().change_view(request, object_id, form_url, extra_context)

    def renew_view(self, request, object_id):
        """Renew a line against cash or a bank transfer (Billing and Manager roles)."""
        line = self.get_object(request, object_id)
        if line is None:
            raise Http404
        if not self.has_renew_permission(request):
            raise PermissionDenied
        form = RenewLineForm(request.POST or None, line=line)
        if request.method == "POST" and form.is_valid():
            try:
                payment = line_renew_with_manual_payment(
                    line=line, actor=Actor.staff(request.user), **form.cleaned_data
                )
            except DomainError as error:
                form.add_error(None, error.message)
            else:
                renewal = payment.renewal
                if renewal.period_end is None:
                    message = _("Renewed with %(plan)s, starting at first use; receipt %(receipt)s.")
                    end = ""
                else:
                    message = _("Renewed with %(plan)s until %(end)s; receipt %(receipt)s.")
                    end = date_format(timezone.localtime(renewal.period_end), "DATETIME_FORMAT")
                self.message_user(
                    request,
                    message
                    % {"plan": renewal.plan.display_name(), "end": end, "receipt": payment.receipt_number},
                    messages.SUCCESS,
                )
                return redirect("admin:accounts_simline_change", line.pk)
        prices = Price.objects.filter(plan__in=form.fields["plan"].queryset, channel=Price.Channel.RETAIL)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Renew line %(iccid)s") % {"iccid": line.iccid},
            "opts": self.model._meta,
            "original": line,
            "form": form,
            "prices": prices.select_related("plan").order_by(
                "plan__sort_order", "plan__validity_days", "currency"
            ),
        }
        return TemplateResponse(request, "admin/accounts/simline/renew.html", context)

    def adjust_view(self, request, object_id):
        """Credit or debit data, minutes or SMS, or move the expiry, with a reason (Support and
        up); above the limits it waits for a Manager."""
        from accounts.admin_forms import AdjustmentForm
        from accounts.corrections import adjustment_request

        line = self.get_object(request, object_id)
        if line is None:
            raise Http404
        if not request.user.has_perm("accounts.add_correction"):
            raise PermissionDenied
        form = AdjustmentForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                correction = adjustment_request(
                    line=line,
                    reason=form.cleaned_data["reason"],
                    comment=form.cleaned_data["comment"],
                    actor=Actor.staff(request.user),
                    **form.adjustment(),
                )
            except DomainError as error:
                form.add_error(None, error.message)
            else:
                applied = correction.status == Correction.Status.APPLIED
                self.message_user(
                    request,
                    _("Adjustment applied.")
                    if applied
                    else _("Adjustment above the limits: waiting for a manager."),
                    messages.SUCCESS if applied else messages.WARNING,
                )
                return redirect("admin:accounts_simline_change", line.pk)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Adjust line %(iccid)s") % {"iccid": line.iccid},
            "opts": self.model._meta,
            "original": line,
            "form": form,
            "balance": self.balance(line),
        }
        return TemplateResponse(request, "admin/accounts/simline/adjust.html", context)

    def _correction_page(self, request, object_id, form_class, act, title: str, done: str):
        line = self.get_object(request, object_id)
        if line is None:
            raise Http404
        if not request.user.has_perm("accounts.add_correction"):
            raise PermissionDenied
        form = form_class(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                act(line, form.cleaned_data, Actor.staff(request.user))
            except DomainError as error:
                form.add_error(None, error.message)
            else:
                self.message_user(request, done, messages.SUCCESS)
                return redirect("admin:accounts_simline_change", line.pk)
        context = {
            **self.admin_site.each_context(request),
            "title": title % {"iccid": line.iccid},
            "opts": self.model._meta,
            "original": line,
            "form": form,
        }
        return TemplateResponse(request, "admin/accounts/simline/correction.html", context)

    def swap_view(self, request, object_id):
        """A new physical SIM (new ICCID) or a re-issued eSIM, keeping plan, balance and history."""
        from accounts.admin_forms import SimSwapForm
        from accounts.corrections import sim_swap

        def act(line, data, actor):
            sim_swap(line=line, actor=actor, **data)

        return self._correction_page(
            request, object_id, SimSwapForm, act, _("SIM swap for line %(iccid)s"), _("SIM swapped.")
        )

    def move_view(self, request, object_id):
        """Give the line to another customer."""
        from accounts.admin_forms import LineMoveForm
        from accounts.corrections import line_move

        def act(line, data, actor):
            line_move(line=line, actor=actor, **data)

        return self._correction_page(
            request,
            object_id,
            LineMoveForm,
            act,
            _("Move line %(iccid)s to another customer"),
            _("Line moved."),
        )

    def payment_link_view(self, request, object_id):
        """Renew a line by sending the customer a link to pay online (Billing and Manager)."""
        from payments.checkout import line_payment_link_create
        from payments.links import pay_url

        line = self.get_object(request, object_id)
        if line is None:
            raise Http404
        if not self.has_renew_permission(request):
            raise PermissionDenied
        form = PaymentLinkForm(request.POST or None, line=line)
        link = None
        if request.method == "POST" and form.is_valid():
            try:
                checkout = line_payment_link_create(
                    line=line, actor=Actor.staff(request.user), **form.cleaned_data
                )
            except DomainError as error:
                form.add_error(None, error.message)
            else:
                link = request.build_absolute_uri(pay_url(checkout.payment))
        context = {
            **self.admin_site.each_context(request),
            "title": _("Payment link for line %(iccid)s") % {"iccid": line.iccid},
            "opts": self.model._meta,
            "original": line,
            "form": form,
            "link": link,
        }
        return TemplateResponse(request, "admin/accounts/simline/payment_link.html", context)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "auto_renew_plan":
            kwargs["queryset"] = Plan.objects.filter(is_active=True, is_auto_renewable=True)
        if db_field.name == "auto_renew_payment_method":
            from payments.models import SavedPaymentMethod

            # The line's own customer's cards (the model's clean() checks it on save too).
            line_id = request.resolver_match.kwargs.get("object_id") if request.resolver_match else None
            customer_id = SimLine.objects.filter(pk=line_id).values("customer_id")[:1] if line_id else None
            kwargs["queryset"] = SavedPaymentMethod.objects.filter(
                removed_at__isnull=True,
                kind="card",
                **({"customer_id__in": customer_id} if customer_id else {"pk__in": []}),
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    @admin.display(description=_("status"), ordering="status")
    def status_now(self, obj):
        return SimLine.Status(obj.effective_status).label

    @admin.display(description=_("balance this period"))
    def balance(self, obj):
        if obj.pk is None:
            return "—"
        balance = line_balance(obj)
        if not balance.has_period:
            return _("No current period")
        data = (
            _("unlimited")
            if balance.data_unlimited
            else _("%(left)s MB left of %(total)s MB")
            % {"left": balance.data_remaining_mb, "total": balance.data_allowance_mb}
        )
        return format_html(
            "{} · {} · {}{}",
            data,
            _("%(left)s of %(total)s min")
            % {"left": balance.voice_remaining_minutes, "total": balance.voice_allowance_minutes},
            _("%(left)s of %(total)s SMS") % {"left": balance.sms_remaining, "total": balance.sms_allowance},
            format_html(" · <strong>{}</strong>", _("data used up")) if balance.depleted else "",
        )

    @admin.display(description=_("latest usage"))
    def recent_usage(self, obj):
        if obj.pk is None:
            return "—"
        rows = obj.usage.order_by("-recorded_at")[:20]
        link = reverse("admin:plans_usage_changelist") + f"?line__exact={obj.pk}"
        body = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            ((timezone.localtime(u.recorded_at), u.data_bytes, u.voice_minutes, u.sms) for u in rows),
        )
        return format_html(
            '<table><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>{}</table><a href="{}">{}</a>',
            _("time"),
            _("bytes"),
            _("minutes"),
            _("SMS"),
            body,
            link,
            _("All usage of this line"),
        )

    @admin.display(description=_("payments"))
    def payments(self, obj):
        if obj.pk is None:
            return "—"
        rows = Payment.objects.filter(renewal__line=obj).order_by("-id")[:20]
        body = format_html_join(
            "",
            '<tr><td><a href="{}">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>',
            (
                (
                    reverse("admin:payments_payment_change", args=[p.pk]),
                    p,
                    money(p.amount, p.currency),
                    p.get_method_display(),
                    p.get_status_display(),
                    timezone.localtime(p.paid_at) if p.paid_at else "—",
                )
                for p in rows
            ),
        )
        return format_html(
            "<table><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>{}</table>",
            _("receipt"),
            _("amount"),
            pgettext_lazy("payment", "method"),
            _("status"),
            _("paid"),
            body,
        )


@admin.register(Correction)
class CorrectionAdmin(AuditedAdmin):
    list_display = ["id", "kind", "status", "customer", "line", "reason", "channel", "created_at"]
    list_select_related = ["customer", "line"]
    list_filter = ["status", "kind", "reason", "channel"]
    autocomplete_fields = ["customer", "line"]
    readonly_fields = [
        "status",
        "before",
        "after",
        "requested_by",
        "decided_by",
        "decided_at",
        "created_at",
        "reverses",
    ]

    def get_urls(self):
        custom = [
            path(
                "<path:object_id>/decide/",
                self.admin_site.admin_view(self.decide_view),
                name="accounts_correction_decide",
            ),
            path(
                "<path:object_id>/reverse/",
                self.admin_site.admin_view(self.reverse_view),
                name="accounts_correction_reverse",
            ),
        ]
        return custom + super().get_urls()

    def change_view(self, request, object_id, form_url="", extra_context=None):
        from accounts.corrections import APPROVE_PERMISSION
        from accounts.details import DECIDE_PERMISSION

        correction = self.get_object(request, object_id)
        adjustment = correction is not None and correction.kind in (
            Correction.Kind.BALANCE,
            Correction.Kind.EXPIRY,
        )
        extra_context = {
            **(extra_context or {}),
            "can_decide": bool(
                correction is not None
                and correction.status == Correction.Status.REQUESTED
                and request.user.has_perm(APPROVE_PERMISSION if adjustment else DECIDE_PERMISSION)
            ),
            "can_reverse": bool(
                adjustment
                and correction.status == Correction.Status.APPLIED
                and request.user.has_perm("accounts.add_correction")
            ),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def _correction_form_page(self, request, object_id, form_class, act, title):
        correction = self.get_object(request, object_id)
        if correction is None:
            raise Http404
        form = form_class(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                act(correction, form.cleaned_data)
            except DomainError as error:
                form.add_error(None, error.message)
            else:
                return redirect("admin:accounts_correction_change", correction.pk)
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "opts": self.model._meta,
            "original": correction,
            "form": form,
        }
        return TemplateResponse(request, "admin/accounts/correction/form.html", context)

    def decide_view(self, request, object_id):
        from accounts.admin_forms import DecisionForm
        from accounts.corrections import correction_decide

        def act(correction, data):
            correction_decide(
                correction=correction,
                approve=data["decision"] == "approve",
                actor=Actor.staff(request.user),
                comment=data["comment"],
            )

        return self._correction_form_page(request, object_id, DecisionForm, act, _("Decide this adjustment"))

    def reverse_view(self, request, object_id):
        from accounts.admin_forms import ReversalForm
        from accounts.corrections import correction_reverse

        if not request.user.has_perm("accounts.add_correction"):
            raise PermissionDenied

        def act(correction, data):
            correction_reverse(
                correction=correction, actor=Actor.staff(request.user), comment=data["comment"]
            )

        return self._correction_form_page(request, object_id, ReversalForm, act, _("Reverse this adjustment"))

    def has_add_permission(self, request):
        # Corrections are made by their services (the line's and customer's pages, the
        # customer's requests), which apply the four-eyes and validation rules.
        return False

    def has_change_permission(self, request, obj=None):
        # A correction is a ledger row: decided or reversed through its own pages, never
        # edited (its deltas are what the balances add up).
        return False


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = [
        "occurred_at",
        "action",
        "object_repr",
        "actor_kind",
        "actor_label",
        "channel",
        "request_id",
    ]
    # No filter on "action": listing its values would scan the whole table.
    list_filter = [("occurred_at", admin.DateFieldListFilter), "actor_kind", "channel"]
    search_fields = ["=action", "=object_id", "=request_id", "=actor_label"]

    def get_urls(self):
        export = path(
            "export.csv", self.admin_site.admin_view(self.export_view), name="accounts_auditentry_export"
        )
        return [export, *super().get_urls()]

    def export_view(self, request):
        """The entries the list shows (same search and filters), all of them, as CSV, streamed."""
        from django.http import StreamingHttpResponse

        from accounts.audit_export import audit_csv_lines

        if not self.has_view_permission(request):
            raise PermissionDenied
        entries = self.get_changelist_instance(request).get_queryset(request)
        response = StreamingHttpResponse(audit_csv_lines(entries), content_type="text/csv; charset=utf-8")
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        response["Content-Disposition"] = f'attachment; filename="audit-{stamp}.csv"'
        return response
