from django import template
from django.conf import settings

register = template.Library()


@register.simple_tag
def staff_second_factor_off() -> bool:
    """True where the demo lets staff into the admin with a password alone (never in production)."""
    return not settings.STAFF_REQUIRE_SECOND_FACTOR
