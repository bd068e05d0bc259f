"""Money: ISO 4217 codes, rounding per currency, and the one conversion to Stripe's minor units."""

from decimal import ROUND_DOWN, Decimal

import pytest
from django.core.exceptions import ValidationError

from reseller.money import (
    Money,
    exponent,
    from_stripe_minor_units,
    has_valid_precision,
    quantize,
    to_stripe_minor_units,
    validate_currency,
)

# ---------------------------------------------------------------- ISO 4217


@pytest.mark.parametrize("code", ["EUR", "CNY", "USD", "GBP", "JPY", "KWD", "ISK", "CHF", "HKD"])
def test_validate_currency_accepts_iso_4217_codes(code):
    validate_currency(code)


@pytest.mark.parametrize("code", ["eur", "Eur", "EURO", "EU", "XYZ", "RMB", "", "€", " EUR", "EUR "])
def test_validate_currency_refuses_anything_but_an_upper_case_iso_4217_code(code):
    with pytest.raises(ValidationError) as excinfo:
        validate_currency(code)

    assert excinfo.value.code == "currency"


@pytest.mark.parametrize(
    ("currency", "expected"),
    [
        ("EUR", 2),
        ("USD", 2),
        ("CNY", 2),
        ("JPY", 0),
        ("KRW", 0),
        ("ISK", 0),
        ("KWD", 3),
        ("BHD", 3),
        ("CLF", 4),
    ],
)
def test_exponent_is_the_iso_4217_minor_unit(currency, expected):
    assert exponent(currency) == expected


def test_exponent_of_unknown_currency_is_refused():
    with pytest.raises(ValidationError) as excinfo:
        exponent("XYZ")

    assert excinfo.value.code == "currency"


# ---------------------------------------------------------------- rounding


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        ("19.9", "EUR", "19.90"),
        ("19.905", "EUR", "19.91"),
        ("19.904", "EUR", "19.90"),
        ("1500", "JPY", "1500"),
        ("1500.5", "JPY", "1501"),
        ("1499.4", "JPY", "1499"),
        ("1.23", "KWD", "1.230"),
        ("1.2345", "KWD", "1.235"),
        ("1.2344", "KWD", "1.234"),
    ],
)
def test_quantize_rounds_half_up_to_the_currency_minor_unit(amount, currency, expected):
    result = quantize(Decimal(amount), currency)

    assert str(result) == expected


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [("19.999", "EUR", "19.99"), ("1500.9", "JPY", "1500"), ("1.2349", "KWD", "1.234")],
)
def test_quantize_round_down_never_gives_back_more(amount, currency, expected):
    result = quantize(Decimal(amount), currency, rounding=ROUND_DOWN)

    assert str(result) == expected


def test_quantize_refuses_float():
    with pytest.raises(TypeError, match="float"):
        quantize(19.9, "EUR")


def test_quantize_refuses_unknown_currency():
    with pytest.raises(ValidationError):
        quantize(Decimal("19.90"), "XYZ")


@pytest.mark.parametrize(
    ("amount", "currency", "valid"),
    [
        ("19.90", "EUR", True),
        ("19.900", "EUR", True),
        ("19.901", "EUR", False),
        ("1500", "JPY", True),
        ("1500.5", "JPY", False),
        ("1.235", "KWD", True),
        ("1.2345", "KWD", False),
    ],
)
def test_has_valid_precision_says_whether_the_amount_fits_the_minor_unit(amount, currency, valid):
    assert has_valid_precision(Decimal(amount), currency) is valid


# ---------------------------------------------------------------- Money


def test_money_holds_a_decimal_amount_and_its_currency():
    price = Money(Decimal("19.9"), "EUR")

    assert price.amount == Decimal("19.9")
    assert price.currency == "EUR"
    assert str(price) == "19.90 EUR"


@pytest.mark.parametrize("amount", [19.9, 0.1 + 0.2])
def test_money_refuses_float(amount):
    with pytest.raises(TypeError, match="float"):
        Money(amount, "EUR")


@pytest.mark.parametrize("amount", [1990, "19.90", None])
def test_money_refuses_anything_but_decimal(amount):
    with pytest.raises(TypeError, match="Decimal"):
        Money(amount, "EUR")


@pytest.mark.parametrize("currency", ["XYZ", "eur", "EURO", ""])
def test_money_refuses_a_currency_outside_iso_4217(currency):
    with pytest.raises(ValidationError) as excinfo:
        Money(Decimal("19.90"), currency)

    assert excinfo.value.code == "currency"


def test_money_is_immutable():
    price = Money(Decimal("19.90"), "EUR")

    with pytest.raises(AttributeError):
        price.amount = Decimal("0.01")


# ---------------------------------------------------------------- to Stripe


@pytest.mark.parametrize(
    ("amount", "currency", "units"),
    [
        ("19.90", "EUR", 1990),
        ("19.9", "EUR", 1990),
        ("19.900", "EUR", 1990),
        ("0.50", "USD", 50),
        ("88.00", "CNY", 8800),
        ("1500", "JPY", 1500),
        ("1500.0", "JPY", 1500),
        ("50000", "KRW", 50000),
        ("1.230", "KWD", 1230),
        ("1.23", "KWD", 1230),
        ("0.010", "BHD", 10),
        # ISK is zero-decimal in ISO 4217 but Stripe takes it as two decimals ending in 00.
        ("500", "ISK", 50000),
        # MGA has two decimals in ISO 4217 but is zero-decimal for Stripe.
        ("2000", "MGA", 2000),
        ("2000.00", "MGA", 2000),
    ],
)
def test_to_stripe_minor_units_uses_stripes_exponent_for_the_currency(amount, currency, units):
    result = to_stripe_minor_units(Decimal(amount), currency)

    assert result == units
    assert type(result) is int


@pytest.mark.parametrize("amount", ["1.235", "1.231", "0.001"])
def test_to_stripe_minor_units_refuses_three_decimal_amounts_not_ending_in_zero(amount):
    # Stripe takes KWD with three decimals but refuses a last digit other than 0.
    with pytest.raises(ValueError, match=r"0\.01"):
        to_stripe_minor_units(Decimal(amount), "KWD")


@pytest.mark.parametrize(
    ("amount", "currency"),
    [
        ("19.901", "EUR"),
        ("0.001", "USD"),
        ("1500.5", "JPY"),
        ("500.5", "ISK"),
        ("1.2345", "KWD"),
    ],
)
def test_to_stripe_minor_units_refuses_more_decimals_than_the_currency_has(amount, currency):
    with pytest.raises(ValueError, match="more decimals"):
        to_stripe_minor_units(Decimal(amount), currency)


def test_to_stripe_minor_units_refuses_cents_in_a_currency_stripe_takes_whole():
    # MGA 2000.50 is valid in ISO 4217, but Stripe only takes whole ariary.
    with pytest.raises(ValueError, match="whole number"):
        to_stripe_minor_units(Decimal("2000.50"), "MGA")


@pytest.mark.parametrize("currency", ["CLF", "UYW", "IQD", "LYD"])
def test_to_stripe_minor_units_refuses_currencies_stripe_cannot_charge(currency):
    with pytest.raises(ValueError, match="Stripe does not take"):
        to_stripe_minor_units(Decimal("1"), currency)


@pytest.mark.parametrize("amount", [19.9, 1990, "19.90", True])
def test_to_stripe_minor_units_refuses_anything_but_decimal(amount):
    with pytest.raises(TypeError, match="Decimal"):
        to_stripe_minor_units(amount, "EUR")


def test_to_stripe_minor_units_error_names_float():
    with pytest.raises(TypeError, match="float"):
        to_stripe_minor_units(19.9, "EUR")


@pytest.mark.parametrize("amount", ["NaN", "sNaN", "Infinity", "-Infinity"])
def test_to_stripe_minor_units_refuses_non_finite_amounts(amount):
    with pytest.raises(ValueError, match="finite"):
        to_stripe_minor_units(Decimal(amount), "EUR")


@pytest.mark.parametrize("currency", ["XYZ", "eur", "EURO", ""])
def test_to_stripe_minor_units_refuses_unknown_currency(currency):
    with pytest.raises(ValidationError) as excinfo:
        to_stripe_minor_units(Decimal("19.90"), currency)

    assert excinfo.value.code == "currency"


# ---------------------------------------------------------------- from Stripe


@pytest.mark.parametrize(
    ("units", "currency", "amount"),
    [
        (1990, "EUR", "19.90"),
        (1, "USD", "0.01"),
        (8800, "CNY", "88.00"),
        (1500, "JPY", "1500"),
        (1, "KRW", "1"),
        (1230, "KWD", "1.230"),
        (10, "BHD", "0.010"),
        (50000, "ISK", "500"),
        (2000, "MGA", "2000.00"),
    ],
)
def test_from_stripe_minor_units_gives_the_amount_with_the_currency_exponent(units, currency, amount):
    result = from_stripe_minor_units(units, currency)

    # Compared as strings: the exponent matters (19.90, not 19.9), not just the value.
    assert str(result) == amount


@pytest.mark.parametrize(
    ("amount", "currency"),
    [
        ("19.90", "EUR"),
        ("0.01", "EUR"),
        ("99999.99", "USD"),
        ("0.50", "GBP"),
        ("128.00", "CNY"),
        ("1", "JPY"),
        ("1500", "JPY"),
        ("9900", "KRW"),
        ("1.230", "KWD"),
        ("0.010", "KWD"),
        ("12.340", "BHD"),
        ("500", "ISK"),
        ("1", "ISK"),
        ("2000.00", "MGA"),
    ],
)
def test_stripe_minor_units_round_trip(amount, currency):
    original = quantize(Decimal(amount), currency)

    units = to_stripe_minor_units(original, currency)

    assert from_stripe_minor_units(units, currency) == original
    assert to_stripe_minor_units(from_stripe_minor_units(units, currency), currency) == units


@pytest.mark.parametrize("currency", ["EUR", "JPY", "KWD", "ISK"])
@pytest.mark.parametrize("units", [0, 10, 990, 1000, 123450])
def test_stripe_minor_units_round_trip_from_stripe_side(currency, units):
    # Every amount Stripe can send comes back as the same integer (ISK arrives as whole 100s).
    if currency == "ISK":
        units *= 100

    assert to_stripe_minor_units(from_stripe_minor_units(units, currency), currency) == units


@pytest.mark.parametrize("units", [19.9, 1990.0, "1990", Decimal("1990"), True])
def test_from_stripe_minor_units_refuses_anything_but_int(units):
    with pytest.raises(TypeError):
        from_stripe_minor_units(units, "EUR")


@pytest.mark.parametrize("currency", ["XYZ", "eur", ""])
def test_from_stripe_minor_units_refuses_unknown_currency(currency):
    with pytest.raises(ValidationError) as excinfo:
        from_stripe_minor_units(1990, currency)

    assert excinfo.value.code == "currency"
