from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from notifications.models import NotificationLog
from notifications.services import notifications_resend
from reseller.actors import Actor
from reseller.admin_tools import ReadOnlyAdmin


@admin.register(NotificationLog)
class NotificationLogAdmin(ReadOnlyAdmin):
    """What each customer was told, and whether it went out. Written by the notification
    services only; staff may only ask for a failed message to be sent again."""

    list_display = ["kind", "channel", "status", "customer", "line", "recipient", "created_at", "sent_at"]
    list_filter = ["kind", "channel", "status"]
    list_select_related = ["customer", "line"]
    search_fields = ["=recipient"]
    search_help_text = _("The exact e-mail address or phone number (+33612345678).")
    actions = ["resend"]
    readonly_fields = [
        "customer",
        "line",
        "renewal",
        "kind",
        "channel",
        "period_end",
        "language",
        "recipient",
        "subject",
        "body",
        "status",
        "attempts",
        "last_attempt_at",
        "error",
        "provider_reference",
        "dedupe_key",
        "created_at",
        "sent_at",
    ]
    fields = readonly_fields

    @admin.action(description=_("Send the selected failed messages again"), permissions=["resend"])
    def resend(self, request, queryset):
        count = notifications_resend(
            log_ids=queryset.values_list("pk", flat=True), actor=Actor.staff(request.user)
        )
        if count:
            self.message_user(request, _("Messages to send again: %(count)s.") % {"count": count})
        else:
            self.message_user(request, _("None of the selected messages had failed."), level=messages.WARNING)

    def has_resend_permission(self, request):
        return request.user.has_perm("notifications.change_notificationlog")
