from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = _("Webhooks to partners")

    def ready(self):
        from webhooks import checks  # noqa: F401 (registers the encryption key checks)
