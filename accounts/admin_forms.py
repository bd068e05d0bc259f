"""Admin forms for registering lines, balance and expiry adjustments and their decisions."""

import uuid
from datetime import timedelta

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from accounts.models import Correction, Customer, SimLine


class AdjustmentForm(forms.Form):
    WHAT = [
        ("data_mb", _("Data (MB)")),
        ("voice_minutes", _("Minutes")),
        ("sms", _("SMS")),
        ("expiry_days", _("Expiry (days)")),
    ]
    what = forms.ChoiceField(label=_("adjust"), choices=WHAT)
    amount = forms.IntegerField(
        label=pgettext_lazy("change an amount by", "by"),
        min_value=-1_000_000,
        max_value=1_000_000,
        help_text=_("Positive to credit or extend, negative to debit or shorten."),
    )
    reason = forms.ChoiceField(label=_("reason"), choices=Correction.Reason.choices)
    comment = forms.CharField(label=_("comment"), widget=forms.Textarea(attrs={"rows": 3}))

    def clean_amount(self):
        amount = self.cleaned_data["amount"]
        if amount == 0:
            raise forms.ValidationError(_("Enter an amount other than zero."))
        return amount

    def adjustment(self) -> dict:
        what, amount = self.cleaned_data["what"], self.cleaned_data["amount"]
        if what == "expiry_days":
            return {"expiry": timedelta(days=amount)}
        return {what: amount}


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(
        label=_("decision"),
        choices=[("approve", _("Approve and apply")), ("reject", _("Reject"))],
        widget=forms.RadioSelect,
    )
    comment = forms.CharField(label=_("comment"), required=False, widget=forms.Textarea(attrs={"rows": 3}))


class ReversalForm(forms.Form):
    comment = forms.CharField(label=_("why it was wrong"), widget=forms.Textarea(attrs={"rows": 3}))


class SimSwapForm(forms.Form):
    new_iccid = forms.CharField(
        label=_("new SIM's ICCID"), max_length=20, required=False, help_text=_("Printed on the new card.")
    )
    new_activation_code = forms.CharField(
        label=_("new eSIM activation code"), max_length=255, required=False, help_text="LPA:1$…"
    )
    reason = forms.ChoiceField(label=_("reason"), choices=Correction.Reason.choices)
    comment = forms.CharField(label=_("comment"), widget=forms.Textarea(attrs={"rows": 3}))


class LineMoveForm(forms.Form):
    to_customer = forms.ModelChoiceField(label=_("new owner"), queryset=Customer.objects.none())
    reason = forms.ChoiceField(label=_("reason"), choices=Correction.Reason.choices)
    comment = forms.CharField(label=_("comment"), widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # A number, not a list of every customer: staff type the customer's id from search.
        self.fields["to_customer"].queryset = Customer.objects.all()
        self.fields["to_customer"].widget = forms.NumberInput()
        self.fields["to_customer"].help_text = _("The customer's number, as shown in Customers.")


class LineRegisterForm(forms.Form):
    """A new line: a physical SIM by the ICCID printed on it, or an eSIM ordered from the
    network. ``accounts.line_registration`` checks the numbers and writes the audit entry."""

    customer = forms.ModelChoiceField(label=_("customer"), queryset=Customer.objects.all())
    kind = forms.ChoiceField(
        label=_("kind"), choices=SimLine.Kind.choices, initial=SimLine.Kind.PHYSICAL, widget=forms.RadioSelect
    )
    iccid = forms.CharField(
        label="ICCID",
        max_length=40,
        required=False,
        help_text=_("Physical SIM: the number printed on the card. An eSIM gets its own from the network."),
    )
    msisdn = forms.CharField(
        label=_("phone number (MSISDN)"),
        max_length=30,
        required=False,
        help_text=_("Physical SIM, when known: international format, e.g. +33612345678."),
    )
    reason = forms.ChoiceField(
        label=_("reason"), choices=Correction.Reason.choices, initial=Correction.Reason.CUSTOMER_REQUEST
    )
    comment = forms.CharField(
        label=_("comment"),
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("What happened, for whoever reads the history later."),
    )
    # One key per rendering of the form: a double submit orders one eSIM.
    idempotency_key = forms.CharField(widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["idempotency_key"].initial = uuid.uuid4().hex
        # A number, not a list of every customer: staff type the customer's id from search.
        self.fields["customer"].widget = forms.NumberInput()
        self.fields["customer"].help_text = _("The customer's number, as shown in Customers.")

    def clean(self):
        data = super().clean()
        if data.get("kind") == SimLine.Kind.PHYSICAL and not data.get("iccid"):
            self.add_error("iccid", _("A physical SIM is registered by the ICCID printed on it."))
        if data.get("kind") == SimLine.Kind.ESIM:
            for name in ("iccid", "msisdn"):
                if data.get(name):
                    self.add_error(name, _("An eSIM's identity comes from the network; leave this out."))
        return data
