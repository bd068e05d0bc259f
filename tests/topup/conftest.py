"""A shop's catalogue (a plan for every SIM, one for eSIMs only), a physical line whose owner
must stay unknown to whoever tops it up, and fresh rate-limit counters for every test."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.utils import timezone

from accounts.identifiers import make_iccid
from reseller.validators import luhn_check_digit
from tests.factories import CustomerFactory, PlanFactory, PriceFactory, SimLineFactory


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    # The counters live in the cache, keyed by address and number: no test inherits another's.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def esim_plan(db):
    plan = PlanFactory(code="esim-7d", validity_days=7, data_mb=5_000, for_physical=False, for_esim=True)
    PriceFactory(plan=plan, currency="EUR", amount=Decimal("7.50"))
    return plan


@pytest.fixture
def owners_line(db, plan, esim_plan):
    owner = CustomerFactory(
        full_name="Hortense Secretowner",
        email="hortense.owner@example.org",
        timezone="Europe/Paris",
    )
    return SimLineFactory(
        customer=owner,
        plan=plan,
        iccid=make_iccid(4_242_424),
        msisdn="+33612345678",
        expires_at=timezone.now() + timedelta(days=9, hours=3),
    )


def unknown_twin_iccid(iccid: str) -> str:
    """Another valid ICCID that masks the same way (same first and last four digits)."""
    middle = list(iccid[4:-4])
    middle[0] = str((int(middle[0]) + 1) % 10)
    for digit in "0123456789":
        middle[2] = digit
        payload = iccid[:4] + "".join(middle) + iccid[-4:-1]
        if payload + luhn_check_digit(payload) == payload + iccid[-1]:
            return payload + iccid[-1]
    raise AssertionError("no twin")
