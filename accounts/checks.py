"""Deployment check: production never lets staff into the admin without a second factor."""

from django.conf import settings
from django.core.checks import Error, Tags, register


@register(Tags.security, deploy=True)
def staff_second_factor_required(app_configs, **kwargs):
    if settings.PRODUCTION and not settings.STAFF_REQUIRE_SECOND_FACTOR:
        return [
            Error(
                "STAFF_REQUIRE_SECOND_FACTOR is off: staff would reach the admin with a password alone.",
                hint="Unset it; only the embedded demo may turn it off.",
                id="accounts.E001",
            )
        ]
    return []
