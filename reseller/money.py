"""Money: ISO 4217 currencies, rounding, and the one conversion to Stripe's minor units.

Amounts are Decimal with a currency code everywhere in the product; never float. The only
place that turns an amount into an integer of minor units for Stripe is
``to_stripe_minor_units`` (and back, ``from_stripe_minor_units``).
"""

from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

# ISO 4217 active codes with their minor-unit exponent (the standard's own table).
_EXPONENT_0 = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF"
_EXPONENT_3 = "BHD IQD JOD KWD LYD OMR TND"
_EXPONENT_4 = "CLF UYW"
_EXPONENT_2 = (
    "AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD BTN BWP BYN "
    "BZD CAD CDF CHE CHF CHW CNY COP COU CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP "
    "GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT "
    "LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN "
    "NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE "
    "SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD UYU UZS VED VES WST "
    "XCD YER ZAR ZMW ZWG"
)
CURRENCY_EXPONENTS: dict[str, int] = {
    **{code: 2 for code in _EXPONENT_2.split()},
    **{code: 0 for code in _EXPONENT_0.split()},
    **{code: 3 for code in _EXPONENT_3.split()},
    **{code: 4 for code in _EXPONENT_4.split()},
}

# Stripe's own view of some currencies differs from ISO 4217 (docs: "Supported currencies",
# zero-decimal and special cases). Zero-decimal in Stripe:
_STRIPE_ZERO_DECIMAL = set("BIF CLP DJF GNF JPY KMF KRW MGA PYG RWF UGX VND VUV XAF XOF XPF".split())
# ISK is zero-decimal in ISO but Stripe still takes it as a two-decimal amount ending in 00.
_STRIPE_TWO_DECIMAL_WHOLE = {"ISK"}
# Three-decimal currencies: Stripe takes three decimals, but the last digit must be 0.
_STRIPE_THREE_DECIMAL = {"BHD", "JOD", "KWD", "OMR", "TND"}

CURRENCY_CHOICES = sorted((code, code) for code in CURRENCY_EXPONENTS)


def validate_currency(code: str) -> None:
    if code not in CURRENCY_EXPONENTS:
        raise ValidationError(
            _("%(code)s is not an ISO 4217 currency code."), code="currency", params={"code": code}
        )


def exponent(currency: str) -> int:
    validate_currency(currency)
    return CURRENCY_EXPONENTS[currency]


def quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-exponent(currency))


def quantize(amount: Decimal, currency: str, rounding: str = ROUND_HALF_UP) -> Decimal:
    """Round to the currency's minor unit (refunds pass ROUND_DOWN: never give back more)."""
    if not isinstance(amount, Decimal):
        raise TypeError(f"money amounts must be Decimal, not {type(amount).__name__}")
    return amount.quantize(quantum(currency), rounding=rounding)


def has_valid_precision(amount: Decimal, currency: str) -> bool:
    return quantize(amount, currency) == amount


@dataclass(frozen=True)
class Money:
    """An amount with its currency, for passing money around as one value."""

    amount: Decimal
    currency: str

    def __post_init__(self):
        if not isinstance(self.amount, Decimal):
            raise TypeError(f"money amounts must be Decimal, not {type(self.amount).__name__}")
        validate_currency(self.currency)

    def __str__(self) -> str:
        return f"{quantize(self.amount, self.currency)} {self.currency}"


def _stripe_exponent(currency: str) -> int:
    if currency in _STRIPE_ZERO_DECIMAL:
        return 0
    if currency in _STRIPE_THREE_DECIMAL:
        return 3
    if CURRENCY_EXPONENTS[currency] > 2:
        raise ValueError(f"Stripe does not take payments in {currency}")
    return 2  # includes ISK, which Stripe takes as two decimals ending in 00


def to_stripe_minor_units(amount: Decimal, currency: str) -> int:
    """The integer Stripe expects for ``amount`` in ``currency`` (refuses what it would reject)."""
    if not isinstance(amount, Decimal):
        raise TypeError(f"money amounts must be Decimal, not {type(amount).__name__}")
    if not amount.is_finite():
        raise ValueError(f"{amount} is not a finite amount")
    validate_currency(currency)
    if not has_valid_precision(amount, currency):
        raise ValueError(f"{amount} has more decimals than {currency} allows")
    minor = amount.scaleb(_stripe_exponent(currency))
    if minor != minor.to_integral_value():
        raise ValueError(f"{amount} {currency} is not a whole number of Stripe minor units")
    units = int(minor)
    if currency in _STRIPE_THREE_DECIMAL and units % 10:
        raise ValueError(f"Stripe needs {currency} amounts rounded to 0.01, not {amount}")
    if currency in _STRIPE_TWO_DECIMAL_WHOLE and units % 100:
        raise ValueError(f"Stripe needs whole {currency} amounts, not {amount}")
    return units


def from_stripe_minor_units(units: int, currency: str) -> Decimal:
    """The Decimal amount for an integer of Stripe minor units (as found in events)."""
    if not isinstance(units, int) or isinstance(units, bool):
        raise TypeError("Stripe amounts are integers of minor units")
    validate_currency(currency)
    value = Decimal(units).scaleb(-_stripe_exponent(currency))
    return quantize(value, currency, rounding=ROUND_DOWN)


def format_money(amount: Decimal, currency: str) -> str:
    """``amount`` rounded to the currency's minor unit, written the active language's way,
    then the ISO code: "1,234.50 EUR", "1 234,50 EUR", "1,500 JPY"."""
    from django.utils import formats

    number = formats.number_format(
        quantize(amount, currency), decimal_pos=exponent(currency), use_l10n=True, force_grouping=True
    )
    return f"{number}\u00a0{currency}"
