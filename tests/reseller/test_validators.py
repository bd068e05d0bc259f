"""Validators for our identifiers: ICCID, MSISDN (E.164), eSIM activation codes, zones, countries."""

import pytest
from django.core.exceptions import ValidationError

from accounts.identifiers import make_activation_code, make_iccid, make_msisdn
from reseller.validators import (
    luhn_check_digit,
    luhn_is_valid,
    normalize_msisdn,
    parse_activation_code,
    validate_activation_code,
    validate_country_code,
    validate_country_list,
    validate_e164,
    validate_iccid,
    validate_timezone,
)


def _error_code(validator, value) -> str:
    with pytest.raises(ValidationError) as excinfo:
        validator(value)
    return excinfo.value.code


def _iccid_19(payload_18: str) -> str:
    """A 19-digit ICCID, made the way make_iccid makes 20-digit ones (payload + Luhn digit)."""
    assert len(payload_18) == 18
    return payload_18 + luhn_check_digit(payload_18)


def _with_wrong_check_digit(iccid: str) -> str:
    last = int(iccid[-1])
    return iccid[:-1] + str((last + 1) % 10)


# ---------------------------------------------------------------- ICCID


@pytest.mark.parametrize(
    "iccid",
    [
        make_iccid(1),
        make_iccid(1_000_000),
        make_iccid(9_999_999_999_999),
        make_iccid(42, prefix="8986"),  # China
        make_iccid(42, prefix="8944"),  # United Kingdom
        "89014103211118510720",  # a real 20-digit ICCID printed on a US SIM
    ],
)
def test_valid_20_digit_iccid_passes(iccid):
    assert len(iccid) == 20

    validate_iccid(iccid)


@pytest.mark.parametrize("payload", ["893320000000000001", "898600123456789012", "894400000000000000"])
def test_valid_19_digit_iccid_passes(payload):
    iccid = _iccid_19(payload)
    assert len(iccid) == 19

    validate_iccid(iccid)


def test_make_iccid_makes_20_digits_with_a_luhn_check_digit():
    iccid = make_iccid(123)

    assert iccid == "8933200000000000123" + luhn_check_digit("8933200000000000123")
    assert luhn_is_valid(iccid)


@pytest.mark.parametrize(
    "value",
    [
        "8933200000000000001A",
        "89332000000000000O19",  # letter O typed for zero
        "8933 2000 0000 0000 019",
        "89332000-00000000019",
        "+8933200000000000019",
        "８９３３２０００００００００００００１９",  # full-width digits pass str.isdigit()
        "",
    ],
)
def test_iccid_with_anything_but_ascii_digits_is_refused_as_digits_error(value):
    assert _error_code(validate_iccid, value) == "iccid_digits"


@pytest.mark.parametrize(
    "value",
    [
        "89",
        "893320000000000001",  # 18 digits
        make_iccid(1) + "0",  # 21 digits
        make_iccid(1) + make_iccid(2),
    ],
)
def test_iccid_with_wrong_length_is_refused_as_length_error(value):
    assert _error_code(validate_iccid, value) == "iccid_length"


@pytest.mark.parametrize("prefix", ["883320", "983320", "093320", "000000"])
def test_iccid_not_starting_with_89_is_refused_as_prefix_error(prefix):
    # Luhn-valid on purpose, so only the prefix is wrong.
    iccid = make_iccid(7, prefix=prefix)
    assert luhn_is_valid(iccid)

    assert _error_code(validate_iccid, iccid) == "iccid_prefix"


@pytest.mark.parametrize("iccid", [make_iccid(1), make_iccid(77_777), _iccid_19("893320000000000001")])
def test_iccid_with_wrong_check_digit_is_refused_as_luhn_error(iccid):
    with pytest.raises(ValidationError) as excinfo:
        validate_iccid(_with_wrong_check_digit(iccid))

    assert excinfo.value.code == "iccid_luhn"
    assert excinfo.value.messages == [
        "This ICCID's check digit is wrong; please check the number on the SIM card."
    ]


@pytest.mark.parametrize("position", range(2, 20))
def test_any_single_mistyped_digit_after_the_prefix_is_caught(position):
    iccid = make_iccid(1_234_567)
    digit = int(iccid[position])
    mistyped = iccid[:position] + str((digit + 3) % 10) + iccid[position + 1 :]

    assert _error_code(validate_iccid, mistyped) == "iccid_luhn"


def test_swapped_adjacent_digits_are_caught():
    iccid = make_iccid(1_200_000)  # ...12... in the serial
    index = iccid.index("12", 6)
    swapped = iccid[:index] + "21" + iccid[index + 2 :]

    assert _error_code(validate_iccid, swapped) == "iccid_luhn"


# ---------------------------------------------------------------- MSISDN / E.164


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("06 12 34 56 78", "+33612345678"),
        ("0612345678", "+33612345678"),
        ("06.12.34.56.78", "+33612345678"),
        ("+33 6 12 34 56 78", "+33612345678"),
        ("0033612345678", "+33612345678"),
        ("+33612345678", "+33612345678"),
        ("+86 138 0013 8000", "+8613800138000"),
        ("+1 (650) 253-0000", "+16502530000"),
        ("+44 7911 123456", "+447911123456"),
    ],
)
def test_normalize_msisdn_gives_e164(raw, expected):
    assert normalize_msisdn(raw) == expected


def test_normalize_msisdn_reads_national_numbers_in_the_given_region():
    assert normalize_msisdn("138 0013 8000", default_region="CN") == "+8613800138000"


@pytest.mark.parametrize(
    "raw",
    ["", "hello", "12", "06 12", "06 12 34 56 78 90 12", "+33 1", "+999 1234 5678", "+33 6 12 34 56 7"],
)
def test_normalize_msisdn_refuses_invalid_numbers(raw):
    assert _error_code(normalize_msisdn, raw) == "phone"


@pytest.mark.parametrize("value", ["+33612345678", "+8613800138000", "+16502530000", make_msisdn(0)])
def test_validate_e164_accepts_normalized_international_numbers(value):
    validate_e164(value)


@pytest.mark.parametrize(
    "value", ["0612345678", "06 12 34 56 78", "+33 6 12 34 56 78", "0033612345678", "33612345678"]
)
def test_validate_e164_refuses_numbers_not_in_e164_form(value):
    assert _error_code(validate_e164, value) == "e164"


@pytest.mark.parametrize("value", ["+3361234", "+999123456789", "+"])
def test_validate_e164_refuses_invalid_numbers(value):
    with pytest.raises(ValidationError):
        validate_e164(value)


# ---------------------------------------------------------------- eSIM activation code


@pytest.mark.parametrize(
    ("code", "smdp", "matching_id"),
    [
        ("LPA:1$smdp.example-carrier.fr$MATCH-000001", "smdp.example-carrier.fr", "MATCH-000001"),
        (
            "LPA:1$rsp.truphone.com$QRF-BETTERROAMING-PMRDGIR2EARDEIT5",
            "rsp.truphone.com",
            "QRF-BETTERROAMING-PMRDGIR2EARDEIT5",
        ),
        # Optional SM-DP+ OID and confirmation-code flag after the matching id.
        ("LPA:1$smdp.io$K2-1ABCD-2EFGH$1.3.6.1.4.1.31746$1", "smdp.io", "K2-1ABCD-2EFGH"),
    ],
)
def test_parse_activation_code_returns_smdp_address_and_matching_id(code, smdp, matching_id):
    assert parse_activation_code(code) == (smdp, matching_id)


def test_make_activation_code_round_trips_through_parse():
    code = make_activation_code("MATCH-123456")

    assert parse_activation_code(code) == ("smdp.example-carrier.fr", "MATCH-123456")


@pytest.mark.parametrize(
    "code",
    [
        "",
        None,
        "smdp.example.com$MATCH",
        "1$smdp.example.com$MATCH",
        "LPA:2$smdp.example.com$MATCH",
        "lpa:1$smdp.example.com$MATCH",
        "LPA:1$$MATCH",
        "LPA:1$smdp.example.com$",
        "LPA:1$smdp.example.com",
        "LPA:1$smdp$MATCH",  # no domain
        "LPA:1$smdp.example.com$MATCH ID",
        "LPA:1$smdp.example.com$MATCH/ID",
        " LPA:1$smdp.example.com$MATCH",
        "LPA:1$smdp.example.com$MATCH\n",
        "LPA:1$smdp.example.com$MATCH\nLPA:1$evil.example.com$OTHER",
        "LPA:1$smdp.example.com\n$MATCH",
    ],
)
def test_parse_activation_code_refuses_malformed_codes(code):
    assert _error_code(parse_activation_code, code) == "activation_code"
    assert _error_code(validate_activation_code, code) == "activation_code"


# ---------------------------------------------------------------- time zones and countries


@pytest.mark.parametrize(
    "zone", ["Europe/Paris", "Asia/Shanghai", "America/New_York", "Asia/Kolkata", "UTC", "Pacific/Chatham"]
)
def test_validate_timezone_accepts_iana_zones(zone):
    validate_timezone(zone)


@pytest.mark.parametrize(
    "zone",
    [
        "",
        "Europe/Pariss",
        "europe/paris",
        "Paris",
        "Mars/Olympus",
        "+02:00",
        "CEST",
        # Present in the zone database but not places: "localtime" is the server's own zone
        # (a symlink to /etc/localtime), "Factory" means "zone not set".
        "localtime",
        "Factory",
    ],
)
def test_validate_timezone_refuses_unknown_zones(zone):
    assert _error_code(validate_timezone, zone) == "timezone"


@pytest.mark.parametrize("code", ["FR", "CN", "US", "GB", "ES", "JP", "HK", "MO", "TW"])
def test_validate_country_code_accepts_iso_3166_codes(code):
    validate_country_code(code)


@pytest.mark.parametrize("code", ["", "fr", "Fr", "FRA", "F", "UK", "ZZ", "EU", "001", "F1", " FR"])
def test_validate_country_code_refuses_anything_else(code):
    assert _error_code(validate_country_code, code) == "country"


def test_validate_country_list_accepts_a_list_of_codes():
    validate_country_list(["FR", "ES", "IT", "DE"])


@pytest.mark.parametrize("value", [[], "FR", "FR,ES", None, {"FR": True}])
def test_validate_country_list_refuses_what_is_not_a_non_empty_list(value):
    assert _error_code(validate_country_list, value) == "countries"


@pytest.mark.parametrize("value", [["FR", "XX"], ["fr"], ["FR", ""]])
def test_validate_country_list_refuses_a_list_with_an_unknown_code(value):
    assert _error_code(validate_country_list, value) == "country"
