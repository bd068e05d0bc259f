from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import FileExtensionValidator
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from carrier.models import ActivationAttempt
from plans.activation import AWAITING, stuck_renewals
from plans.models import Plan, Price, Renewal, Usage, UsageImport
from plans.usage_import import UsageFileRejected, rejected_row_reason, usage_import
from reseller.actors import Actor
from reseller.admin_tools import AuditedAdmin, ReadOnlyAdmin, ReadOnlyInline, money


class PriceInline(admin.TabularInline):
    model = Price
    extra = 0
    fields = ["channel", "currency", "amount"]


@admin.register(Plan)
class PlanAdmin(AuditedAdmin):
    list_display = ["code", "name_en", "validity_days", "data_mb", "voice_minutes", "sms", "is_active"]
    list_filter = ["is_active", "validity_days", "for_esim", "for_physical", "is_auto_renewable"]
    search_fields = ["code", "name_en", "name_fr", "name_zh_hans"]
    readonly_fields = ["created_at"]
    inlines = [PriceInline]  # shown only to roles that may see prices
    fieldsets = [
        (None, {"fields": ["code", "name_en", "name_fr", "name_zh_hans", "is_active", "sort_order"]}),
        (_("Allowances"), {"fields": ["validity_days", "data_mb", "voice_minutes", "sms", "coverage"]}),
        (_("Rules"), {"fields": ["for_physical", "for_esim", "activation_policy", "is_auto_renewable"]}),
        (None, {"fields": ["created_at"]}),
    ]

    def has_delete_permission(self, request, obj=None):
        # Renewals reference plans; a plan is retired by taking it off sale, not deleted.
        return False


@admin.register(Price)
class PriceAdmin(AuditedAdmin):
    list_display = ["plan", "channel", "currency", "amount"]
    list_select_related = ["plan"]
    list_filter = ["channel", "currency", "plan"]
    autocomplete_fields = ["plan"]


class ActivationAttemptInline(ReadOnlyInline):
    model = ActivationAttempt
    fields = ["number", "started_at", "finished_at", "succeeded", "error", "carrier_reference"]


class ActivationQueueFilter(admin.SimpleListFilter):
    """The renewals staff must look at: paid but not yet active on the network."""

    title = _("activation")
    parameter_name = "queue"

    def lookups(self, request, model_admin):
        return [
            ("stuck", _("Not active after 24 hours (call the carrier)")),
            ("waiting", _("Paid, waiting for activation")),
        ]

    def queryset(self, request, queryset):
        if self.value() == "stuck":
            return queryset.filter(pk__in=stuck_renewals().values("pk"))
        if self.value() == "waiting":
            return queryset.filter(status__in=AWAITING)
        return queryset


@admin.register(Renewal)
class RenewalAdmin(ReadOnlyAdmin):
    """Renewals are made and moved by the renewal service only; here staff look them up."""

    list_display = [
        "id",
        "line",
        "plan",
        "channel",
        "status",
        "price",
        "period_start",
        "period_end",
        "paid_at",
    ]
    list_select_related = ["line", "plan"]
    list_filter = [ActivationQueueFilter, "status", "channel", "plan"]
    search_fields = ["=line__iccid", "=idempotency_key", "=carrier_reference"]
    inlines = [ActivationAttemptInline]

    @admin.display(description=_("price"))
    def price(self, obj):
        return money(obj.price_amount, obj.currency)


# An upload is imported while the request waits; bigger files go through
# ``manage.py import_usage`` on the server.
MAX_USAGE_FILE_BYTES = 50 * 1024 * 1024


class UsageFileForm(forms.Form):
    file = forms.FileField(
        label=_("Usage file"),
        validators=[FileExtensionValidator(["csv"])],
        help_text=_(
            "A CSV file from the carrier, UTF-8, at most 50 MB, with the header "
            "iccid,recorded_at,data_bytes,voice_minutes,sms,record_id."
        ),
    )

    def clean_file(self):
        file = self.cleaned_data["file"]
        if file.size > MAX_USAGE_FILE_BYTES:
            raise ValidationError(
                _("The file is larger than 50 MB: import it in several parts."), code="too_large"
            )
        return file


class UsageImportLinkMixin:
    """The "Import a usage file" button on a changelist, for those allowed to import."""

    change_list_template = "admin/plans/usage/change_list.html"

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "has_import_permission": _may_import(request)}
        return super().changelist_view(request, extra_context)


def _may_import(request) -> bool:
    return request.user.has_perm("plans.add_usageimport")


@admin.register(Usage)
class UsageAdmin(UsageImportLinkMixin, ReadOnlyAdmin):
    """Usage records come from carrier files only (the upload page here, or
    ``manage.py import_usage``)."""

    ordering = ["-id"]  # the primary key: no sort of the whole usage table per page
    list_display = ["recorded_at", "line", "data_bytes", "voice_minutes", "sms", "source_record_id"]
    list_select_related = ["line"]
    search_fields = ["=line__iccid", "=source_record_id"]

    def get_urls(self):
        # Before the model's own URLs: "<object_id>/" would otherwise take "import/".
        upload = path("import/", self.admin_site.admin_view(self.import_view), name="plans_usage_import")
        return [upload, *super().get_urls()]

    def import_view(self, request):
        if not _may_import(request):
            raise PermissionDenied
        form = UsageFileForm(request.POST, request.FILES) if request.method == "POST" else UsageFileForm()
        if form.is_bound and form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                report = usage_import(file=upload, filename=upload.name, actor=Actor.staff(request.user))
            except UsageFileRejected as error:
                form.add_error("file", error.message)
            else:
                self.message_user(
                    request,
                    _(
                        "Imported %(filename)s. Applied: %(applied)s, already imported: "
                        "%(duplicate)s, rejected: %(rejected)s."
                    )
                    % {
                        "filename": report.filename,
                        "applied": report.rows_applied,
                        "duplicate": report.rows_duplicate,
                        "rejected": report.rows_rejected,
                    },
                    level=messages.WARNING if report.rows_rejected else messages.SUCCESS,
                )
                return redirect(reverse("admin:plans_usageimport_change", args=[report.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": _("Import a usage file"),
            "opts": self.opts,
            "form": form,
        }
        return TemplateResponse(request, "admin/plans/usage/import_form.html", context)


@admin.register(UsageImport)
class UsageImportAdmin(UsageImportLinkMixin, ReadOnlyAdmin):
    """Reports of imported usage files: written by the import only."""

    list_display = [
        "filename",
        "created_at",
        "imported_by",
        "rows_total",
        "rows_applied",
        "rows_duplicate",
        "rows_rejected",
    ]
    list_select_related = ["imported_by"]
    list_filter = ["channel"]
    search_fields = ["filename", "=sha256"]
    fields = [
        "filename",
        "sha256",
        "created_at",
        "imported_by",
        "channel",
        "rows_total",
        "rows_applied",
        "rows_duplicate",
        "rows_rejected",
        "rejected_rows",
    ]
    readonly_fields = fields

    @admin.display(description=_("rejected rows"))
    def rejected_rows(self, obj):
        if not obj.errors:
            return "—"
        table = format_html(
            '<table class="usage-import-errors"><thead><tr><th>{}</th><th>{}</th></tr></thead>'
            "<tbody>{}</tbody></table>",
            _("line"),
            _("reason"),
            format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td></tr>",
                ((error["line"], rejected_row_reason(error)) for error in obj.errors),
            ),
        )
        if not obj.errors_truncated:
            return table
        note = _("Only the first %(listed)s of %(rejected)s rejected rows are listed.") % {
            "listed": len(obj.errors),
            "rejected": obj.rows_rejected,
        }
        return format_html("{}<p>{}</p>", table, note)
