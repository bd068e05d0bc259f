"""Admin forms for renewing a line: against a manual payment, or by sending the customer a
link to pay by card, Alipay or WeChat Pay."""

import uuid

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.models import SimLine
from payments.models import PaymentMethod
from plans.models import Plan, Price


class _LinePlanForm(forms.Form):
    """A plan the line can take and a currency it is priced in; one idempotency key per
    rendering of the form, so a double submit acts once."""

    plan = forms.ModelChoiceField(queryset=Plan.objects.none(), label=_("plan"))
    currency = forms.ChoiceField(label=_("currency"))
    idempotency_key = forms.CharField(widget=forms.HiddenInput)

    def __init__(self, *args, line: SimLine, **kwargs):
        super().__init__(*args, **kwargs)
        kind_filter = {"for_esim": True} if line.kind == SimLine.Kind.ESIM else {"for_physical": True}
        self.fields["plan"].queryset = Plan.objects.filter(is_active=True, **kind_filter)
        currencies = (
            Price.objects.filter(channel=Price.Channel.RETAIL, plan__is_active=True)
            .order_by("currency")
            .values_list("currency", flat=True)
            .distinct()
        )
        self.fields["currency"].choices = [(c, c) for c in currencies]
        self.fields["currency"].initial = line.customer.currency
        self.fields["idempotency_key"].initial = uuid.uuid4().hex


class PaymentLinkForm(_LinePlanForm):
    method = forms.ChoiceField(
        label=_("the customer pays by"),
        choices=[
            (PaymentMethod.CARD, _("Card (Apple Pay, Google Pay)")),
            (PaymentMethod.ALIPAY, PaymentMethod.ALIPAY.label),
            (PaymentMethod.WECHAT_PAY, PaymentMethod.WECHAT_PAY.label),
        ],
    )


class RenewLineForm(_LinePlanForm):
    method = forms.ChoiceField(
        label=_("paid by"),
        choices=[
            (PaymentMethod.CASH, PaymentMethod.CASH.label),
            (PaymentMethod.BANK_TRANSFER, PaymentMethod.BANK_TRANSFER.label),
        ],
    )
    amount = forms.DecimalField(label=_("amount received"), max_digits=15, decimal_places=3, min_value=0)
    reference = forms.CharField(
        label=_("reference"),
        max_length=100,
        required=False,
        help_text=_("Bank transfer reference, or the number of the cash receipt you gave."),
    )
