"""The customer's own forms: profile, new contact e-mail or phone, and requests for what only
staff change. They check shape; the services in accounts.details and
accounts.contact_verification apply the rules."""

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.details import REQUESTABLE, SELF_SERVICE_FIELDS
from accounts.models import Customer, SimLine


class ProfileForm(forms.ModelForm):
    class Meta:
        model = Customer
        fields = list(SELF_SERVICE_FIELDS)
        labels = {"full_name": _("Your name (as you like it written)")}
        widgets = {"country": forms.TextInput(attrs={"maxlength": 2, "autocomplete": "country"})}


class ContactForm(forms.Form):
    value = forms.CharField(label=_("New value"), max_length=254)


class CodeForm(forms.Form):
    code = forms.CharField(
        label=_("Code"),
        max_length=6,
        min_length=6,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code"}),
    )


class CorrectionRequestForm(forms.Form):
    field = forms.ChoiceField(label=_("What should change"))
    line = forms.ModelChoiceField(
        label=_("Line"),
        queryset=SimLine.objects.none(),
        required=False,
        help_text=_("For a line's number, SIM or owner."),
    )
    value = forms.CharField(label=_("New value"), max_length=200)
    comment = forms.CharField(
        label=_("Anything we should know"),
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args, customer, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["field"].choices = [(name, label) for name, (label, _kind, _line) in REQUESTABLE.items()]
        # Only the customer's own lines can be chosen: another's is an invalid choice.
        self.fields["line"].queryset = SimLine.objects.filter(customer=customer).order_by("pk")
        self.fields["line"].label_from_instance = lambda line: line.msisdn or line.iccid
