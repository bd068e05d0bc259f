"""Admin building blocks shared by the apps: counts that stay cheap on big tables, read-only
ledgers, audited saves, money shown with its currency."""

import json

from django.conf import settings
from django.contrib import admin
from django.core.paginator import Paginator
from django.db import connections, transaction
from django.utils.functional import cached_property

from accounts.audit import audit_record
from reseller.actors import Actor
from reseller.money import quantize


class EstimatedCountPaginator(Paginator):
    """Never an unbounded COUNT(*): the stock changelist counts twice (~280 ms at a million
    rows). Up to ADMIN_EXACT_COUNT_LIMIT rows the count is exact (a bounded subquery);
    beyond that, PostgreSQL's planner estimate is used (pg_class or EXPLAIN). An unfiltered
    list of a table PostgreSQL knows to be large reads the estimate alone: one query, not two."""

    @cached_property
    def count(self):
        queryset = self.object_list
        limit = settings.ADMIN_EXACT_COUNT_LIMIT
        if not queryset.query.where:
            table_size = _table_size_estimate(queryset)
            if table_size > 2 * limit:  # far past the limit: the estimate's error cannot matter
                return table_size
        # Only the ids: the list's annotations (a payment's refunded total…) count for nothing.
        bounded = queryset.order_by().values("pk")[: limit + 1].count()
        if bounded <= limit:
            return bounded
        estimate = _planner_estimate(queryset)
        return max(estimate, bounded)


def _table_size_estimate(queryset) -> int:
    """The rows PostgreSQL's statistics give the whole table (0 elsewhere, or never analysed)."""
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return 0
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass", [queryset.model._meta.db_table]
        )
        row = cursor.fetchone()
        return max(int(row[0]), 0) if row else 0


def _planner_estimate(queryset) -> int:
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return 0
    if not queryset.query.where:
        return _table_size_estimate(queryset)
    with connection.cursor() as cursor:
        sql, params = queryset.order_by().query.sql_with_params()
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
        if isinstance(plan, str):  # psycopg returns parsed JSON; other drivers may not
            plan = json.loads(plan)
        return int(plan[0]["Plan"]["Plan Rows"])


class SmartSearchMixin:
    """Replace the admin's icontains-over-every-field with a ``search_filter`` function from
    accounts.search, which recognises what was typed and looks it up on its index."""

    search_filter = None

    def get_search_results(self, request, queryset, search_term):
        if not search_term.strip():
            return queryset, False
        return queryset.filter(type(self).search_filter(search_term)), False


class BaseAdmin(admin.ModelAdmin):
    """Defaults for every changelist: cheap counts, one page of 50, no second full count."""

    paginator = EstimatedCountPaginator
    show_full_result_count = False
    list_per_page = 50
    # Facets count every filter value over the whole table (?_facets=1): never on big tables.
    show_facets = admin.ShowFacets.NEVER
    #: The object's history page shows this many audit entries, newest first.
    history_limit = 500

    def history_view(self, request, object_id, extra_context=None):
        """The object's own audit trail (every change by staff, customers, partners and
        system tasks, from our append-only log), instead of Django's admin-only LogEntry."""
        from django.contrib.contenttypes.models import ContentType
        from django.core.exceptions import PermissionDenied
        from django.http import Http404
        from django.template.response import TemplateResponse
        from django.utils.translation import gettext

        from accounts.models import AuditEntry

        obj = self.get_object(request, object_id)
        if obj is None:
            raise Http404
        if not self.has_view_or_change_permission(request, obj):
            raise PermissionDenied
        entries = AuditEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(obj, for_concrete_model=True),
            object_id=str(obj.pk),
        ).select_related("actor_user", "actor_partner")[: self.history_limit]
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("History of %(object)s") % {"object": obj},
            "opts": self.model._meta,
            "original": obj,
            "entries": entries,
            "limit": self.history_limit,
        }
        return TemplateResponse(request, "admin/object_audit_history.html", context)


class AuditedAdmin(BaseAdmin):
    """Saves made through the admin write an audit entry with the changed fields' before and
    after, in the same transaction as the change. Every change form asks why: a reason code
    and a comment, both kept in the entry."""

    audit_namespace = ""  # e.g. "customer"; defaults to the model name
    REASON_FIELDS = ("change_reason", "change_comment")

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is not None and self.has_change_permission(request, obj):
            kwargs["form"] = _with_reason_fields(kwargs.get("form", self.form))
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fieldsets(self, request, obj=None):
        fieldsets = list(super().get_fieldsets(request, obj))
        if obj is None or not self.has_change_permission(request, obj):
            return fieldsets
        shown = {name for _, options in fieldsets for name in options["fields"]}
        if shown.issuperset(self.REASON_FIELDS):
            return fieldsets
        others = [
            (title, {**options, "fields": [f for f in options["fields"] if f not in self.REASON_FIELDS]})
            for title, options in fieldsets
        ]
        return [*others, (_why_title(), {"fields": list(self.REASON_FIELDS)})]

    def save_model(self, request, obj, form, change):
        namespace = self.audit_namespace or obj._meta.model_name
        changes = {
            name: [_plain(form.initial.get(name)), _plain(form.cleaned_data.get(name))]
            for name in form.changed_data
            if name not in self.REASON_FIELDS and name not in getattr(form, "audited_elsewhere", ())
        }
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            if change and not changes:
                return  # only what a service already wrote and audited
            audit_record(
                actor=Actor.staff(request.user),
                action=f"{namespace}.{'changed' if change else 'created'}",
                obj=obj,
                changes=changes,
                reason=change_reason_of(form) if change else "created in the admin",
            )

    def save_formset(self, request, form, formset, change):
        """Inline rows (a plan's prices…) are audited like the page's own fields."""
        namespace = formset.model._meta.model_name
        with transaction.atomic():
            super().save_formset(request, form, formset, change)
            actor = Actor.staff(request.user)
            reason = change_reason_of(form) if change else "created in the admin"
            for obj in formset.new_objects:
                audit_record(
                    actor=actor,
                    action=f"{namespace}.created",
                    obj=obj,
                    changes=_fields_of(obj),
                    reason=reason,
                )
            for obj, changed in formset.changed_objects:
                audit_record(
                    actor=actor,
                    action=f"{namespace}.changed",
                    obj=obj,
                    changes={"fields": changed},
                    reason=reason,
                )
            for obj in formset.deleted_objects:
                audit_record(
                    actor=actor,
                    action=f"{namespace}.deleted",
                    changes={"object": str(obj), **_fields_of(obj)},
                    reason=reason,
                )

    def delete_model(self, request, obj):
        with transaction.atomic():
            audit_record(
                actor=Actor.staff(request.user),
                action=f"{self.audit_namespace or obj._meta.model_name}.deleted",
                changes={"object": str(obj), **_fields_of(obj)},
                reason="deleted in the admin",
            )
            super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            for obj in queryset:
                audit_record(
                    actor=Actor.staff(request.user),
                    action=f"{self.audit_namespace or obj._meta.model_name}.deleted",
                    changes={"object": str(obj), **_fields_of(obj)},
                    reason="deleted in the admin",
                )
            super().delete_queryset(request, queryset)


def _with_reason_fields(form_class):
    """The admin's form with the two questions every change answers, declared on a subclass so
    the model form keeps its own fields and validation."""
    from django import forms
    from django.utils.translation import gettext_lazy

    from accounts.models import CorrectionReason

    return type(
        form_class.__name__,
        (form_class,),
        {
            "change_reason": forms.ChoiceField(
                label=gettext_lazy("reason"), choices=[("", "---------"), *CorrectionReason.choices]
            ),
            "change_comment": forms.CharField(
                label=gettext_lazy("comment"),
                widget=forms.Textarea(attrs={"rows": 2}),
                help_text=gettext_lazy("What happened, for whoever reads the history later."),
            ),
        },
    )


def change_reason_of(form) -> str:
    """The reason code and comment a change form asked for, as the audit entry keeps them."""
    data = getattr(form, "cleaned_data", {})
    return f"{data.get('change_reason') or 'other'}: {(data.get('change_comment') or '').strip()}"


def _why_title():
    from django.utils.translation import gettext

    return gettext("Why this change")


def _fields_of(obj) -> dict:
    return {field.attname: getattr(obj, field.attname) for field in obj._meta.concrete_fields}


def _plain(value):
    if hasattr(value, "pk"):
        return value.pk
    return value


class ReadOnlyAdmin(BaseAdmin):
    """Ledgers and inboxes: visible, never written or deleted through the admin."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class NoDeleteAdmin(BaseAdmin):
    def has_delete_permission(self, request, obj=None):
        return False

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions


def queue_filter(title, parameter: str, label, condition) -> type[admin.SimpleListFilter]:
    """A list filter with one choice that narrows the list to a work queue (``condition``:
    a Q object, ideally matching a partial index)."""

    class QueueFilter(admin.SimpleListFilter):
        parameter_name = parameter

        def lookups(self, request, model_admin):
            return [("yes", label)]

        def queryset(self, request, queryset):
            return queryset.filter(condition) if self.value() == "yes" else queryset

    QueueFilter.title = title
    return QueueFilter


def money(amount, currency) -> str:
    if amount is None:
        return "—"
    return f"{quantize(amount, currency)} {currency}"


class ReadOnlyInline(admin.TabularInline):
    """History shown on a parent's page (renewals, refunds, attempts): its ``fields`` are all
    read-only, and nothing is added or deleted from there."""

    extra = 0
    can_delete = False

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    def has_add_permission(self, request, obj=None):
        return False
