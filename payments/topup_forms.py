"""The public top-up's forms: the SIM's number, then the plan, currency, e-mail and method.

The second page carries a signed token with the number and the page's attempt key: the payer
cannot change the number without going through the first step (and its rate limit) again,
nor pick another page's attempt key."""

import uuid
from dataclasses import dataclass

from django import forms
from django.conf import settings
from django.core import signing
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from payments.checkout import STRIPE_METHOD_TYPES
from payments.models import PaymentMethod
from payments.topup import TopupNumber, topup_number_parse, topup_plans

_SALT = "payments.topup-page"
#: A plans page older than this asks for the number again.
PAGE_MAX_AGE_SECONDS = 3600


@dataclass(frozen=True)
class TopupPage:
    """One plans page shown: the number it is for and its idempotency key."""

    number: TopupNumber
    attempt: str


def page_token(number: TopupNumber) -> str:
    return signing.dumps({"k": number.kind, "n": number.value, "a": uuid.uuid4().hex}, salt=_SALT)


def page_from_token(token: str) -> TopupPage | None:
    try:
        data = signing.loads(token, salt=_SALT, max_age=PAGE_MAX_AGE_SECONDS)
        return TopupPage(number=TopupNumber(kind=data["k"], value=data["n"]), attempt=data["a"])
    except (signing.BadSignature, KeyError, TypeError):
        return None


class TopupNumberForm(forms.Form):
    number = forms.CharField(
        label=_("SIM number (ICCID) or phone number"),
        max_length=40,
        help_text=_(
            "The 19 or 20 digits printed on the SIM card or its holder, starting with 89, "
            "or the SIM's phone number. Spaces are fine."
        ),
        widget=forms.TextInput(
            attrs={"inputmode": "tel", "autocomplete": "off", "autocapitalize": "off", "spellcheck": "false"}
        ),
    )

    def clean_number(self) -> TopupNumber:
        return topup_number_parse(self.cleaned_data["number"])


def _for_sims(plan) -> str:
    if plan.for_physical and plan.for_esim:
        return _("For physical SIMs and eSIMs")
    return _("For eSIMs only") if plan.for_esim else _("For physical SIMs only")


class TopupPayForm(forms.Form):
    token = forms.CharField(widget=forms.HiddenInput, max_length=1000)
    plan = forms.ModelChoiceField(
        label=_("Plan"),
        queryset=topup_plans(),
        widget=forms.RadioSelect,
        error_messages={"invalid_choice": _("Choose one of the plans on sale.")},
    )
    currency = forms.ChoiceField(label=_("Currency"))
    email = forms.EmailField(
        label=_("Your e-mail, for the receipt"),
        help_text=_("We send the receipt here, and nowhere else."),
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    method = forms.ChoiceField(
        label=_("Pay with"),
        choices=[(m, PaymentMethod(m).label) for m in STRIPE_METHOD_TYPES],
        widget=forms.RadioSelect,
        initial=PaymentMethod.CARD,
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.plans = list(self.fields["plan"].queryset)
        language = get_language()
        self.fields["plan"].label_from_instance = lambda plan: plan.display_name(language)
        currencies = sorted({price.currency for plan in self.plans for price in plan.retail_prices})
        self.fields["currency"].choices = [(c, c) for c in currencies]
        preferred = "CNY" if (language or "").startswith("zh") else settings.RESELLER_DEFAULT_CURRENCY
        self.fields["currency"].initial = preferred if preferred in currencies else None

    def plan_rows(self):
        """Each radio button with its plan, the SIMs it is for and its retail prices."""
        by_pk = {str(plan.pk): plan for plan in self.plans}
        for choice in self["plan"]:
            plan = by_pk.get(str(choice.data["value"]))
            if plan is not None:
                yield {"choice": choice, "plan": plan, "for_sims": _for_sims(plan)}

    def clean(self):
        data = super().clean()
        plan, currency = data.get("plan"), data.get("currency")
        if plan is not None and currency and currency not in {p.currency for p in plan.retail_prices}:
            self.add_error("currency", _("This plan has no price in %(currency)s.") % {"currency": currency})
        return data
