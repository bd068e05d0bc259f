"""Deployment checks: production needs Stripe's keys and webhook secret, and a live key must
not be combined with the local Stripe peer's address."""

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security, deploy=True)
def stripe_configured(app_configs, **kwargs):
    problems = []
    for name in ("STRIPE_SECRET_KEY", "STRIPE_PUBLISHABLE_KEY", "STRIPE_WEBHOOK_SECRET"):
        if not getattr(settings, name):
            problems.append(Warning(f"{name} is not set: customers cannot pay by card.", id="payments.W001"))
    if settings.STRIPE_SECRET_KEY.startswith("sk_live_") and settings.STRIPE_API_BASE:
        problems.append(
            Warning("STRIPE_API_BASE points live keys away from Stripe; unset it.", id="payments.W002")
        )
    return problems
