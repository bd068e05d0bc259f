"""A line's auto-renew fields on its admin page go through ``line_auto_renew_set``: the same
rules as everywhere (an auto-renewable plan for the SIM's kind, one of the customer's own saved
cards) and its audit entry, with the reason the staff member gave on the page."""

from django.contrib import messages
from django.http import HttpResponseRedirect
from django.utils.translation import gettext as _

from accounts.models import SimLine
from payments.autorenew import line_auto_renew_set
from reseller.actors import Actor
from reseller.admin_tools import change_reason_of
from reseller.errors import DomainError

AUTO_RENEW_FIELDS = ("auto_renew", "auto_renew_plan", "auto_renew_payment_method")


class AutoRenewThroughServiceMixin:
    """For ``SimLineAdmin``: the page's other fields are saved (and audited) as usual; the
    auto-renew ones by the service, in the same transaction. A change the service refuses is
    shown as an error and nothing of the page is saved."""

    def save_model(self, request, obj, form, change):
        changed = change and set(AUTO_RENEW_FIELDS) & set(form.changed_data)
        if not changed:
            return super().save_model(request, obj, form, change)
        wanted = {name: form.cleaned_data.get(name) for name in AUTO_RENEW_FIELDS}
        if not wanted["auto_renew"] and "auto_renew" not in form.changed_data:
            raise DomainError(_("Turn auto-renew on to change its plan or card."), code="auto_renew_off")
        stored = SimLine.objects.get(pk=obj.pk)  # the model save must not write them itself
        for name in AUTO_RENEW_FIELDS:
            attname = SimLine._meta.get_field(name).attname
            setattr(obj, attname, getattr(stored, attname))
        form.audited_elsewhere = (*getattr(form, "audited_elsewhere", ()), *AUTO_RENEW_FIELDS)
        super().save_model(request, obj, form, change)
        line_auto_renew_set(
            line=obj,
            enabled=bool(wanted["auto_renew"]),
            plan=wanted["auto_renew_plan"],
            method=wanted["auto_renew_payment_method"],
            actor=Actor.staff(request.user),
            reason=change_reason_of(form),
        )

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        # The admin runs the whole page in one transaction: a refusal rolls all of it back.
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except DomainError as refused:
            self.message_user(request, str(refused), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())
