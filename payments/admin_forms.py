"""Admin form for refunding a payment (Billing staff)."""

import uuid

from django import forms
from django.utils.translation import gettext_lazy as _

from payments.models import MANUAL_METHODS, Payment, Refund
from reseller.money import exponent


class RefundForm(forms.Form):
    amount = forms.DecimalField(label=_("amount to refund"), max_digits=15, decimal_places=3, min_value=0)
    reason = forms.ChoiceField(label=_("reason"), choices=Refund.Reason.choices)
    comment = forms.CharField(label=_("comment"), widget=forms.Textarea(attrs={"rows": 3}), required=False)
    entitlement = forms.ChoiceField(
        label=_("the line's plan"),
        choices=Refund.Entitlement.choices,
        initial=Refund.Entitlement.KEEP,
        widget=forms.RadioSelect,
    )
    manual_reference = forms.CharField(
        label=_("how the money was paid back"),
        max_length=200,
        required=False,
        help_text=_("Cash handed over at the counter, or the reference of the bank transfer you made."),
    )
    # One key per rendering of the form: a double submit makes one refund.
    idempotency_key = forms.CharField(widget=forms.HiddenInput)

    def __init__(self, *args, payment: Payment, suggested=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.payment = payment
        self.fields["amount"].decimal_places = exponent(payment.currency)
        self.fields["amount"].help_text = payment.currency
        if suggested is not None:
            self.fields["amount"].initial = suggested
        self.fields["idempotency_key"].initial = uuid.uuid4().hex
        if payment.method not in MANUAL_METHODS:
            del self.fields["manual_reference"]

    def clean_comment(self):
        comment = self.cleaned_data["comment"].strip()
        if self.cleaned_data.get("reason") == Refund.Reason.OTHER and not comment:
            raise forms.ValidationError(_("Say why in the comment when the reason is “Other”."))
        return comment
