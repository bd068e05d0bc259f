"""Webhooks in the admin (Managers): partners' endpoints (the signing secret shown once, on the
page after creation or rotation), the events and their deliveries with every attempt,
read-only, and *Resend now*."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from api.admin import MANAGE_KEYS_PERMISSION, ManagersOnlyAdmin
from reseller.actors import Actor
from reseller.admin_tools import ReadOnlyInline
from reseller.errors import DomainError
from webhooks.delivery import webhook_delivery_resend
from webhooks.endpoints import endpoint_url_check, webhook_endpoint_create, webhook_endpoint_rotate_secret
from webhooks.models import EventType, WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent


class EndpointForm(forms.ModelForm):
    url = forms.URLField(label=_("address"), max_length=500, assume_scheme="https")
    event_types = forms.MultipleChoiceField(
        label=_("events"), choices=EventType.choices, widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["partner", "url", "description", "event_types", "is_active"]

    def clean_url(self):
        try:
            return endpoint_url_check(self.cleaned_data["url"])
        except DomainError as exc:
            raise forms.ValidationError(exc.message) from exc


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("reason"), max_length=500)


def _asked_reason(modeladmin, request, queryset, **page):
    """(the reason typed on the action's confirmation page, None), or (None, that page) on the
    first visit or when the reason is missing."""
    form = ReasonForm(request.POST if "reason" in request.POST else None)
    if form.is_bound and form.is_valid():
        return form.cleaned_data["reason"], None
    return None, _reason_page(modeladmin, request, queryset, form=form, **page)


def _reason_page(modeladmin, request, queryset, *, action, title, question, submit, form):
    context = {
        **modeladmin.admin_site.each_context(request),
        "opts": modeladmin.model._meta,
        "title": title,
        "question": question,
        "submit": submit,
        "objects": queryset,
        "form": form,
        "action": action,
        "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, "admin/webhooks/reason.html", context)


def _secret_page(modeladmin, request, issued):
    # Shown on this page only (not in a message: messages may travel in a cookie).
    context = {
        **modeladmin.admin_site.each_context(request),
        "opts": modeladmin.model._meta,
        "title": _("Webhook signing secret"),
        "endpoint": issued.endpoint,
        "secret": issued.secret,
    }
    response = TemplateResponse(request, "admin/webhooks/webhookendpoint/secret.html", context)
    response["Cache-Control"] = "no-store"
    return response


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ManagersOnlyAdmin):
    list_display = ["url", "partner", "events_display", "is_active", "created_at"]
    list_select_related = ["partner"]
    list_filter = ["is_active", "partner"]
    search_fields = ["url", "partner__code", "partner__name"]
    form = EndpointForm
    readonly_fields = ["created_at", "created_by", "secret_rotated_at"]
    actions = ["rotate_secret"]

    @admin.display(description=_("events"))
    def events_display(self, endpoint: WebhookEndpoint) -> str:
        return ", ".join(endpoint.event_types)

    def get_fields(self, request, obj=None):
        if obj is None:
            return [field for field in EndpointForm.Meta.fields if field != "is_active"]
        return [*EndpointForm.Meta.fields, *self.readonly_fields]

    def get_readonly_fields(self, request, obj=None):
        return [*self.readonly_fields, "partner"] if obj is not None else []

    def has_delete_permission(self, request, obj=None):
        return False  # its deliveries name it: switch it off instead

    def add_view(self, request, form_url="", extra_context=None):
        if request.method != "POST":
            return super().add_view(request, form_url, extra_context)
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = EndpointForm(request.POST)
        if not form.is_valid():
            return super().add_view(request, form_url, extra_context)
        data = form.cleaned_data
        try:
            issued = webhook_endpoint_create(
                partner=data["partner"],
                url=data["url"],
                event_types=data["event_types"],
                description=data["description"],
                actor=Actor.staff(request.user),
            )
        except DomainError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return super().add_view(request, form_url, extra_context)
        return _secret_page(self, request, issued)

    @admin.action(description=_("Rotate the signing secret"))
    def rotate_secret(self, request, queryset):
        reason, page = _asked_reason(
            self,
            request,
            queryset,
            action="rotate_secret",
            title=_("Rotate the signing secret"),
            question=_("Deliveries to this address will be signed with a new secret at once:"),
            submit=_("Rotate"),
        )
        if page is not None:
            return page
        if queryset.count() != 1:
            self.message_user(request, _("Rotate one endpoint's secret at a time."), messages.ERROR)
            return None
        issued = webhook_endpoint_rotate_secret(
            endpoint=queryset.get(), actor=Actor.staff(request.user), reason=reason
        )
        return _secret_page(self, request, issued)


class ManagersInline(ReadOnlyInline):
    def has_view_permission(self, request, obj=None):
        return request.user.has_perm(MANAGE_KEYS_PERMISSION)

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class AttemptInline(ManagersInline):
    model = WebhookAttempt
    fields = ["number", "started_at", "duration_ms", "status_code", "succeeded", "error", "response_body"]


class DeliveryInline(ManagersInline):
    model = WebhookDelivery
    fields = ["endpoint", "status", "attempts", "last_status_code", "next_attempt_at", "delivered_at"]
    show_change_link = True


class ManagersReadOnlyAdmin(ManagersOnlyAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(WebhookEvent)
class WebhookEventAdmin(ManagersReadOnlyAdmin):
    list_display = ["event_id", "event_type", "partner", "created_at"]
    list_select_related = ["partner"]
    list_filter = ["event_type", "partner"]
    search_fields = ["event_id"]
    fields = ["event_id", "event_type", "partner", "created_at", "data"]
    readonly_fields = fields
    inlines = [DeliveryInline]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ManagersReadOnlyAdmin):
    list_display = [
        "pk",
        "event_link",
        "event_type",
        "endpoint",
        "status",
        "attempts",
        "last_status_code",
        "next_attempt_at",
        "delivered_at",
    ]
    list_select_related = ["event", "endpoint__partner"]
    list_filter = ["status", "event__event_type", "endpoint__partner"]
    search_fields = ["event__event_id", "endpoint__url"]
    fields = [
        "event",
        "endpoint",
        "status",
        "attempts",
        "last_status_code",
        "next_attempt_at",
        "delivered_at",
        "created_at",
        "resent_from",
    ]
    readonly_fields = fields
    inlines = [AttemptInline]
    actions = ["resend_now"]

    @admin.display(description=_("event"), ordering="event__event_id")
    def event_link(self, delivery: WebhookDelivery) -> str:
        return delivery.event.event_id

    @admin.display(description=_("type"), ordering="event__event_type")
    def event_type(self, delivery: WebhookDelivery) -> str:
        return delivery.event.event_type

    def has_resend_permission(self, request):
        return request.user.has_perm(MANAGE_KEYS_PERMISSION)

    @admin.action(description=_("Resend now"), permissions=["resend"])
    def resend_now(self, request, queryset):
        reason, page = _asked_reason(
            self,
            request,
            queryset.select_related("event", "endpoint"),
            action="resend_now",
            title=_("Resend webhooks now"),
            question=_("These events will be sent to their endpoints again, now:"),
            submit=_("Resend now"),
        )
        if page is not None:
            return page
        actor = Actor.staff(request.user)
        sent = 0
        for delivery in queryset:
            try:
                webhook_delivery_resend(delivery=delivery, actor=actor, reason=reason)
            except DomainError as exc:
                self.message_user(request, f"{delivery.pk}: {exc.message}", messages.ERROR)
            else:
                sent += 1
        message = ngettext("Sent %(count)s delivery again.", "Sent %(count)s deliveries again.", sent)
        self.message_user(request, message % {"count": sent})
        return None
