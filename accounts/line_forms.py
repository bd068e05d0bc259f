"""The customer's forms about a line: renew it, and turn auto-renew on or off."""

import uuid

from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.models import SimLine
from payments.models import PaymentMethod
from plans.models import Plan, Price


def plans_for(line: SimLine):
    """Plans on sale that fit the line's kind of SIM and have a retail price."""
    fits = Q(for_esim=True) if line.kind == SimLine.Kind.ESIM else Q(for_physical=True)
    return (
        Plan.objects.filter(fits, is_active=True, prices__channel=Price.Channel.RETAIL)
        .distinct()
        .prefetch_related("prices")
        .order_by("validity_days", "pk")
    )


class RenewForm(forms.Form):
    plan = forms.ModelChoiceField(label=_("Plan"), queryset=Plan.objects.none(), widget=forms.RadioSelect)
    currency = forms.ChoiceField(label=_("Currency"))
    method = forms.ChoiceField(
        label=_("Pay with"),
        choices=[(m, PaymentMethod(m).label) for m in ("card", "alipay", "wechat_pay")],
        widget=forms.RadioSelect,
        initial="card",
    )
    # One purchase per page shown: submitting twice opens one renewal and one payment.
    attempt = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def __init__(self, *args, line: SimLine, language: str, **kwargs):
        super().__init__(*args, **kwargs)
        plans = plans_for(line)
        self.fields["plan"].queryset = plans
        self.fields["plan"].label_from_instance = lambda plan: plan.display_name(language)
        currencies = sorted(
            {price.currency for plan in plans for price in plan.prices.all() if price.channel == "retail"}
        )
        self.fields["currency"].choices = [(c, c) for c in currencies]
        self.fields["currency"].initial = (
            line.customer.currency if line.customer.currency in currencies else None
        )
        self.fields["attempt"].initial = uuid.uuid4().hex


class AutoRenewForm(forms.Form):
    enabled = forms.BooleanField(label=_("Renew automatically before expiry"), required=False)
    plan = forms.ModelChoiceField(label=_("Plan"), queryset=Plan.objects.none(), required=False)
    method = forms.ChoiceField(label=_("Card"), required=False)

    def __init__(self, *args, line: SimLine, cards, language: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["plan"].queryset = plans_for(line).filter(is_auto_renewable=True)
        self.fields["plan"].label_from_instance = lambda plan: plan.display_name(language)
        self.fields["method"].choices = [(str(card.pk), str(card)) for card in cards]
        self.cards = {str(card.pk): card for card in cards}
