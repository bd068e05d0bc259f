"""API keys in the admin: Managers issue them (the key is shown once, on the page that follows),
revoke them with a reason, and list the networks a partner may call from."""

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from api.keys import api_key_issue, api_key_revoke
from api.models import ApiKey, PartnerNetwork
from reseller.actors import Actor
from reseller.admin_tools import BaseAdmin
from reseller.errors import DomainError

#: Partners and their keys are a Manager's job (accounts/roles.py).
MANAGE_KEYS_PERMISSION = "accounts.change_partner"


class ManagersOnlyAdmin(BaseAdmin):
    """Seen and changed by Managers only, whatever the model's default permissions say."""

    def has_module_permission(self, request):
        return request.user.has_perm(MANAGE_KEYS_PERMISSION)

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm(MANAGE_KEYS_PERMISSION)

    def has_add_permission(self, request):
        return request.user.has_perm(MANAGE_KEYS_PERMISSION)

    def has_change_permission(self, request, obj=None):
        return request.user.has_perm(MANAGE_KEYS_PERMISSION)

    def has_delete_permission(self, request, obj=None):
        return request.user.has_perm(MANAGE_KEYS_PERMISSION)


class ApiKeyIssueForm(forms.ModelForm):
    class Meta:
        model = ApiKey
        fields = [
            "name",
            "partner",
            "user",
            "scope_read",
            "scope_write",
            "scope_refund",
            "rate_limit_per_minute",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "user" in self.fields:  # absent on a key's page, where every field is read-only
            self.fields["user"].queryset = get_user_model().objects.filter(is_staff=True, is_active=True)
            self.fields["user"].help_text = _("For a staff token: it acts with this user's role.")

    def clean(self):
        cleaned = super().clean()
        if bool(cleaned.get("partner")) == bool(cleaned.get("user")):
            raise forms.ValidationError(
                _("Choose a partner (partner key) or a staff user (staff token), not both.")
            )
        return cleaned


class RevokeForm(forms.Form):
    reason = forms.CharField(label=_("reason"), max_length=500)


@admin.register(ApiKey)
class ApiKeyAdmin(ManagersOnlyAdmin):
    list_display = ["prefix", "name", "partner", "user", "scopes_display", "last_used_at", "revoked_at"]
    list_select_related = ["partner", "user"]
    list_filter = ["revoked_at", "partner"]
    search_fields = ["prefix", "name", "partner__code", "user__username"]
    form = ApiKeyIssueForm
    actions = ["revoke"]

    @admin.display(description=_("scopes"))
    def scopes_display(self, key: ApiKey) -> str:
        return ", ".join(sorted(key.scopes))

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        # A key is never edited: issue a new one and revoke the old.
        return [
            "prefix",
            *ApiKeyIssueForm.Meta.fields,
            "created_at",
            "created_by",
            "last_used_at",
            "revoked_at",
            "revoked_by",
        ]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ApiKeyIssueForm.Meta.fields
        return self.get_readonly_fields(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False  # the audit trail names keys: revoke, never delete

    def add_view(self, request, form_url="", extra_context=None):
        if request.method != "POST":
            return super().add_view(request, form_url, extra_context)
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = ApiKeyIssueForm(request.POST)
        if not form.is_valid():
            return super().add_view(request, form_url, extra_context)
        data = form.cleaned_data
        scopes = {scope for scope in ("read", "write", "refund") if data[f"scope_{scope}"]}
        try:
            issued = api_key_issue(
                name=data["name"],
                partner=data["partner"],
                user=data["user"],
                scopes=scopes,
                rate_limit_per_minute=data["rate_limit_per_minute"],
                actor=Actor.staff(request.user),
            )
        except DomainError as exc:
            form.add_error(None, exc.message)
            self.message_user(request, exc.message, messages.ERROR)
            return super().add_view(request, form_url, extra_context)
        # The key is shown on this page only (not in a message: messages may travel in a cookie).
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("API key issued"),
            "key": issued.key,
            "raw_key": issued.raw,
        }
        response = TemplateResponse(request, "admin/api/apikey/issued.html", context)
        response["Cache-Control"] = "no-store"
        return response

    @admin.action(description=_("Revoke the selected keys"))
    def revoke(self, request, queryset):
        form = RevokeForm(request.POST if "reason" in request.POST else None)
        if form.is_bound and form.is_valid():
            actor = Actor.staff(request.user)
            for key in queryset:
                api_key_revoke(key=key, actor=actor, reason=form.cleaned_data["reason"])
            count = queryset.count()
            message = ngettext("Revoked %(count)s key.", "Revoked %(count)s keys.", count)
            self.message_user(request, message % {"count": count})
            return None
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Revoke API keys"),
            "keys": queryset,
            "form": form,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/api/apikey/revoke.html", context)


@admin.register(PartnerNetwork)
class PartnerNetworkAdmin(ManagersOnlyAdmin):
    list_display = ["partner", "network", "comment"]
    list_select_related = ["partner"]
    list_filter = ["partner"]
    autocomplete_fields = ["partner"]
