"""``{{ plan|plan_name }}``: a plan's name in the reader's language."""

from django import template
from django.utils.translation import get_language

register = template.Library()


@register.filter
def plan_name(plan):
    return plan.display_name(get_language()) if plan else ""
