from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("Customers and lines")

    def ready(self):
        from allauth.account.signals import email_confirmed
        from allauth.mfa.signals import authenticator_added

        from accounts import checks  # noqa: F401 (registers the deploy check)
        from accounts.customer_login import on_email_confirmed
        from accounts.signin import record_second_factor_at_setup

        email_confirmed.connect(on_email_confirmed, dispatch_uid="accounts.customer_login")
        authenticator_added.connect(record_second_factor_at_setup, dispatch_uid="accounts.signin.setup")
