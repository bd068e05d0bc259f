"""The customer's name, asked at signup (allauth's ACCOUNT_SIGNUP_FORM_CLASS). Kept apart from
accounts.signin because allauth imports it while building its own forms."""

from django import forms
from django.utils.translation import gettext_lazy as _


class SignupForm(forms.Form):
    full_name = forms.CharField(
        label=_("Full name"),
        max_length=150,
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )

    def signup(self, request, user) -> None:
        # Held on the login until the e-mail is verified; the customer record is made (or
        # found) only then (accounts.customer_login).
        user.first_name = self.cleaned_data["full_name"].strip()
        user.save(update_fields=["first_name"])
