"""``{{ amount|money:currency }}``: an amount in its currency's decimals, the reader's way."""

from django import template

from reseller.money import format_money

register = template.Library()


@register.filter(name="money")
def money_filter(amount, currency):
    if amount is None or not currency:
        return ""
    return format_money(amount, currency)
