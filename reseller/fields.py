"""Model fields and constraint helpers shared by the apps."""

from decimal import Decimal

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from reseller.money import CURRENCY_EXPONENTS, validate_currency


class MoneyAmountField(models.DecimalField):
    """A Decimal amount of money, always beside a CurrencyField. Floats are refused outright:
    Django would otherwise accept 0.1 + 0.2 and store 0.300, hiding the bug."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_digits", 15)
        kwargs.setdefault("decimal_places", 3)  # enough for KWD/BHD; quantized per currency
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        for key, default in (("max_digits", 15), ("decimal_places", 3)):
            if kwargs.get(key) == default:
                del kwargs[key]
        return name, path, args, kwargs

    def to_python(self, value):
        if isinstance(value, float):
            raise TypeError("money amounts must be Decimal, not float")
        return super().to_python(value)

    def get_prep_value(self, value):
        if isinstance(value, float):
            raise TypeError("money amounts must be Decimal, not float")
        return super().get_prep_value(value)


class CurrencyField(models.CharField):
    """ISO 4217 code, upper case (EUR, CNY, USD, JPY…)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_length", 3)
        kwargs.setdefault("verbose_name", _("currency"))
        kwargs["validators"] = [validate_currency]
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs.pop("validators", None)
        if kwargs.get("max_length") == 3:
            del kwargs["max_length"]
        return name, path, args, kwargs


def currency_check(field: str, name: str) -> models.CheckConstraint:
    """The database refuses any code that is not ISO 4217."""
    return models.CheckConstraint(condition=Q(**{f"{field}__in": sorted(CURRENCY_EXPONENTS)}), name=name)


def choices_check(field: str, choices: type[models.TextChoices], name: str) -> models.CheckConstraint:
    """The database refuses any status (or kind) that is not one of the model's choices."""
    return models.CheckConstraint(condition=Q(**{f"{field}__in": choices.values}), name=name)


def non_negative_check(field: str, name: str) -> models.CheckConstraint:
    return models.CheckConstraint(condition=Q(**{f"{field}__gte": Decimal(0)}), name=name)


def positive_check(field: str, name: str, message=None) -> models.CheckConstraint:
    kwargs = {"violation_error_message": message} if message else {}
    return models.CheckConstraint(condition=Q(**{f"{field}__gt": Decimal(0)}), name=name, **kwargs)
