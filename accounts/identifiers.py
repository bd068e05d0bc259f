"""Making valid identifiers (demo data, tests, SIM stock imports)."""

from functools import cache

import phonenumbers

from reseller.validators import luhn_check_digit

# 89 (telecom) + 33 (France) + 20 (issuer), then a 13-digit serial and the Luhn digit: 20 digits.
DEMO_ICCID_PREFIX = "893320"


def make_iccid(serial: int, prefix: str = DEMO_ICCID_PREFIX) -> str:
    payload = f"{prefix}{serial:0{19 - len(prefix)}d}"
    if len(payload) != 19:
        raise ValueError(f"serial {serial} does not fit after prefix {prefix}")
    return payload + luhn_check_digit(payload)


@cache
def _mobile_blocks() -> tuple[str, ...]:
    """French mobile prefixes (+336xx, +337xx) that the numbering plan allots; a few, such
    as +33639, are not mobile numbers and would fail validation."""
    blocks = []
    for lead in ("6", "7"):
        for block in range(100):
            prefix = f"+33{lead}{block:02d}"
            if phonenumbers.is_valid_number(phonenumbers.parse(f"{prefix}123456")):
                blocks.append(prefix)
    return tuple(blocks)


def make_msisdn(serial: int) -> str:
    """A valid French mobile number for each serial, distinct serials giving distinct numbers."""
    blocks = _mobile_blocks()
    block, rest = divmod(serial, 1_000_000)
    if serial < 0 or block >= len(blocks):
        raise ValueError("serial out of range for a French mobile number")
    return f"{blocks[block]}{rest:06d}"


def make_activation_code(matching_id: str, smdp: str = "smdp.example-carrier.fr") -> str:
    return f"LPA:1${smdp}${matching_id}"
