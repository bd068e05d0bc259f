from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ResellerConfig(AppConfig):
    name = "reseller"
    verbose_name = _("Reseller back office")
