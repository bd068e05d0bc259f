"""Identifiers made for demo data, tests and SIM stock are always valid."""

import pytest

from accounts.identifiers import make_activation_code, make_iccid, make_msisdn
from reseller.validators import (
    luhn_check_digit,
    luhn_is_valid,
    validate_activation_code,
    validate_e164,
    validate_iccid,
)


@pytest.mark.parametrize(
    "serial", [0, 1, 999_999, 1_000_000, 38_999_999, 39_000_000, 91_999_999, 161_999_999]
)
def test_every_msisdn_serial_gives_a_valid_french_mobile_number(serial):
    validate_e164(make_msisdn(serial))


def test_msisdn_serials_give_distinct_numbers():
    serials = range(0, 160_000_000, 999_983)
    assert len({make_msisdn(s) for s in serials}) == len(serials)


def test_msisdn_serial_beyond_the_numbering_plan_is_refused():
    with pytest.raises(ValueError):
        make_msisdn(10**9)


@pytest.mark.parametrize("payload", ["7992739871", "8933200000000000001", "893320123456789012", "0", "9"])
def test_luhn_check_digit_completes_a_valid_number(payload):
    digit = luhn_check_digit(payload)
    assert luhn_is_valid(payload + digit)
    assert [d for d in "0123456789" if luhn_is_valid(payload + d)] == [digit]


def test_known_luhn_example():
    assert luhn_check_digit("7992739871") == "3"


@pytest.mark.parametrize("serial", [0, 1, 42, 9_999_999_999_999])
def test_made_iccids_and_activation_codes_validate(serial):
    validate_iccid(make_iccid(serial))
    validate_activation_code(make_activation_code(f"M-{serial}"))
