"""Validators for the identifiers of our domain: ICCID, MSISDN, eSIM activation codes, zones."""

import re
import zoneinfo
from functools import cache

import phonenumbers
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _


def luhn_is_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def luhn_check_digit(payload: str) -> str:
    """The digit that makes ``payload + digit`` pass the Luhn check (used to make ICCIDs)."""
    # Double every second digit counting from the right of the payload (the check digit will
    # sit to its right), then the check digit brings the sum to a multiple of ten.
    total = 0
    for index, char in enumerate(reversed(payload)):
        value = int(char)
        if index % 2 == 0:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return str(-total % 10)


def validate_iccid(value: str) -> None:
    """ICCID (ITU-T E.118): 19 or 20 digits, starting 89 (telecom), last digit a Luhn check."""
    if not isinstance(value, str) or not value.isascii() or not value.isdigit():
        raise ValidationError(_("An ICCID has digits only."), code="iccid_digits")
    if len(value) not in (19, 20):
        raise ValidationError(_("An ICCID has 19 or 20 digits."), code="iccid_length")
    if not value.startswith("89"):
        raise ValidationError(_("An ICCID starts with 89."), code="iccid_prefix")
    if not luhn_is_valid(value):
        raise ValidationError(
            _("This ICCID's check digit is wrong; please check the number on the SIM card."),
            code="iccid_luhn",
        )


def normalize_msisdn(value: str, default_region: str = "FR") -> str:
    """Return ``value`` in E.164 (+33612345678) or raise ValidationError."""
    try:
        parsed = phonenumbers.parse(value, default_region)
    except phonenumbers.NumberParseException as exc:
        raise ValidationError(_("Enter a valid phone number."), code="phone") from exc
    if not phonenumbers.is_valid_number(parsed):
        raise ValidationError(_("Enter a valid phone number."), code="phone")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def validate_e164(value: str) -> None:
    message = _("Enter the number in international format, e.g. +33612345678.")
    try:
        if not value.startswith("+") or normalize_msisdn(value) != value:
            raise ValidationError(message, code="e164")
    except ValidationError as exc:
        raise ValidationError(message, code="e164") from exc


# GSMA SGP.22 activation code: "LPA:1$<SM-DP+ address>$<matching id>" (optional fields after).
# \Z, not $: "$" also matches before a trailing newline, which would let "…$ID\n" through.
_LPA = re.compile(r"^LPA:1\$(?P<smdp>[A-Za-z0-9.-]+\.[A-Za-z]{2,})\$(?P<matching_id>[A-Za-z0-9-]+)(\$.*)?\Z")


def parse_activation_code(value: str) -> tuple[str, str]:
    match = _LPA.match(value or "")
    if not match:
        raise ValidationError(
            _("An eSIM activation code looks like LPA:1$smdp.example.com$MATCHING-ID."),
            code="activation_code",
        )
    return match["smdp"], match["matching_id"]


def validate_activation_code(value: str) -> None:
    parse_activation_code(value)


# In the zone database but not places: "localtime" is the server's own zone (a link to
# /etc/localtime), "Factory" means "zone not set".
_NOT_PLACES = {"localtime", "Factory"}


@cache
def _known_zones() -> frozenset[str]:
    # available_timezones() walks the tz database on disk (~20 ms); it does not change while
    # the process runs.
    return frozenset(zoneinfo.available_timezones())


def validate_timezone(value: str) -> None:
    if value in _NOT_PLACES or value not in _known_zones():
        raise ValidationError(
            _("%(value)s is not a known time zone."), code="timezone", params={"value": value}
        )


def validate_country_code(value: str) -> None:
    if not re.fullmatch(r"[A-Z]{2}", value or "") or value not in phonenumbers.SUPPORTED_REGIONS:
        raise ValidationError(
            _("%(value)s is not an ISO 3166 country code."), code="country", params={"value": value}
        )


def validate_country_list(value) -> None:
    if not isinstance(value, list) or not value:
        raise ValidationError(_("List at least one country code."), code="countries")
    for code in value:
        validate_country_code(code)
