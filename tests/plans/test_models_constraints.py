"""What the database itself refuses for plans, prices, renewals and usage records, whatever code
writes the row (objects.create and save skip full_clean)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import DataError, IntegrityError, transaction
from django.utils import timezone

from plans.models import Plan, Price, Renewal, Usage
from tests.db import refused, refused_as_duplicate
from tests.factories import PlanFactory, PriceFactory, RenewalFactory, SimLineFactory, UsageFactory

pytestmark = pytest.mark.django_db


def _pending(**kwargs):
    """A renewal waiting for payment: no payment time, no period yet."""
    return {
        "status": Renewal.Status.PENDING_PAYMENT,
        "paid_at": None,
        "period_start": None,
        "period_end": None,
        **kwargs,
    }


# ---------------------------------------------------------------- Plan


@pytest.mark.parametrize("days", [0, -30])
def test_database_refuses_plan_without_validity(days):
    with refused("validity"), transaction.atomic():
        PlanFactory(validity_days=days)

    assert Plan.objects.count() == 0


def test_database_refuses_plan_for_no_kind_of_sim():
    with refused("plan_has_sim_kind"), transaction.atomic():
        PlanFactory(for_physical=False, for_esim=False)

    assert Plan.objects.count() == 0


@pytest.mark.parametrize("policy", ["", "later", "IMMEDIATE"])
def test_database_refuses_unknown_activation_policy(policy):
    with refused("plan_activation_policy_valid"), transaction.atomic():
        PlanFactory(activation_policy=policy)

    assert Plan.objects.count() == 0


def test_database_refuses_duplicate_plan_code():
    PlanFactory(code="europe-30")

    with refused_as_duplicate(), transaction.atomic():
        PlanFactory(code="europe-30")

    assert Plan.objects.filter(code="europe-30").count() == 1


# ---------------------------------------------------------------- Price


@pytest.mark.parametrize("amount", ["0", "0.00", "-0.01", "-19.90"])
def test_database_refuses_zero_or_negative_price(amount):
    with refused("price_amount_positive"), transaction.atomic():
        PriceFactory(amount=Decimal(amount))

    assert Price.objects.count() == 0


def test_database_accepts_the_smallest_positive_price():
    price = PriceFactory(amount=Decimal("0.01"))

    assert Price.objects.get(pk=price.pk).amount == Decimal("0.01")


@pytest.mark.parametrize("currency", ["XYZ", "eur", "RMB", "EU", ""])
def test_database_refuses_price_currency_outside_iso_4217(currency):
    with refused("price_currency_iso4217"), transaction.atomic():
        PriceFactory(currency=currency)

    assert Price.objects.count() == 0


def test_database_refuses_price_currency_longer_than_three_letters():
    # SQLite refuses "EURO" with the ISO 4217 check, PostgreSQL already with varchar(3).
    with pytest.raises((IntegrityError, DataError)), transaction.atomic():
        PriceFactory(currency="EURO")

    assert Price.objects.count() == 0


@pytest.mark.parametrize("channel", ["", "wholesale", "RETAIL"])
def test_database_refuses_unknown_price_channel(channel):
    with refused("price_channel_valid"), transaction.atomic():
        PriceFactory(channel=channel)

    assert Price.objects.count() == 0


def test_database_refuses_two_prices_for_one_plan_currency_and_channel():
    plan = PlanFactory()
    PriceFactory(plan=plan, currency="EUR", channel=Price.Channel.RETAIL, amount=Decimal("19.90"))

    with refused_as_duplicate(), transaction.atomic():
        PriceFactory(plan=plan, currency="EUR", channel=Price.Channel.RETAIL, amount=Decimal("17.90"))

    assert list(Price.objects.filter(plan=plan).values_list("amount", flat=True)) == [Decimal("19.90")]


def test_database_accepts_one_price_per_currency_and_channel():
    plan = PlanFactory()
    PriceFactory(plan=plan, currency="EUR", channel=Price.Channel.RETAIL, amount=Decimal("19.90"))
    PriceFactory(plan=plan, currency="EUR", channel=Price.Channel.PARTNER, amount=Decimal("15.00"))
    PriceFactory(plan=plan, currency="CNY", channel=Price.Channel.RETAIL, amount=Decimal("158.00"))
    PriceFactory(plan=PlanFactory(), currency="EUR", channel=Price.Channel.RETAIL, amount=Decimal("9.90"))

    assert Price.objects.filter(plan=plan).count() == 3


@pytest.mark.parametrize("amount", [19.9, 0.1 + 0.2])
def test_float_price_is_refused_with_a_type_error_naming_float(amount):
    with pytest.raises(TypeError, match="float"), transaction.atomic():
        PriceFactory(amount=amount)

    assert Price.objects.count() == 0


def test_price_amount_keeps_its_decimals():
    price = PriceFactory(currency="KWD", amount=Decimal("1.235"))

    assert Price.objects.get(pk=price.pk).amount == Decimal("1.235")


# ---------------------------------------------------------------- Renewal: idempotency


def test_database_refuses_duplicate_renewal_idempotency_key_in_one_scope():
    line = SimLineFactory()
    RenewalFactory(line=line, **_pending(idempotency_scope="partner:7", idempotency_key="order-123"))

    with refused_as_duplicate(), transaction.atomic():
        RenewalFactory(line=line, **_pending(idempotency_scope="partner:7", idempotency_key="order-123"))

    assert Renewal.objects.filter(idempotency_key="order-123").count() == 1


def test_database_accepts_the_same_idempotency_key_in_another_scope():
    # Two partners may both send "order-123"; they are two purchases.
    RenewalFactory(**_pending(idempotency_scope="partner:7", idempotency_key="order-123"))
    RenewalFactory(**_pending(idempotency_scope="partner:8", idempotency_key="order-123"))

    assert Renewal.objects.filter(idempotency_key="order-123").count() == 2


# ---------------------------------------------------------------- Renewal: period and payment time


def test_database_refuses_renewal_period_ending_before_it_starts():
    start = timezone.now()

    with refused("renewal_period_ordered"), transaction.atomic():
        RenewalFactory(period_start=start, period_end=start - timedelta(days=30))

    assert Renewal.objects.count() == 0


def test_database_refuses_renewal_period_of_no_length():
    start = timezone.now()

    with refused("renewal_period_ordered"), transaction.atomic():
        RenewalFactory(period_start=start, period_end=start)

    assert Renewal.objects.count() == 0


def test_database_refuses_renewal_period_end_without_start():
    with refused("renewal_period_ordered"), transaction.atomic():
        RenewalFactory(period_start=None, period_end=timezone.now())

    assert Renewal.objects.count() == 0


def test_database_refuses_renewal_period_start_without_end():
    with refused("renewal_period_ordered"), transaction.atomic():
        RenewalFactory(period_start=timezone.now(), period_end=None)

    assert Renewal.objects.count() == 0


def test_database_accepts_renewal_without_period_until_paid():
    renewal = RenewalFactory(**_pending())

    assert Renewal.objects.get(pk=renewal.pk).period_start is None


@pytest.mark.parametrize("status", ["paid", "activating", "active", "refunded"])
def test_database_refuses_paid_renewal_without_paid_at(status):
    with refused("renewal_paid_has_paid_at"), transaction.atomic():
        RenewalFactory(status=status, paid_at=None)

    assert Renewal.objects.count() == 0


@pytest.mark.parametrize("status", ["pending_payment", "failed", "cancelled"])
def test_database_accepts_unpaid_renewal_without_paid_at(status):
    RenewalFactory(**_pending(status=status))

    assert Renewal.objects.filter(status=status, paid_at__isnull=True).count() == 1


def test_database_refuses_marking_a_renewal_paid_without_paid_at_by_update():
    renewal = RenewalFactory(**_pending())

    with refused("renewal_paid_has_paid_at"), transaction.atomic():
        Renewal.objects.filter(pk=renewal.pk).update(status=Renewal.Status.PAID)

    assert Renewal.objects.get(pk=renewal.pk).status == Renewal.Status.PENDING_PAYMENT


# ---------------------------------------------------------------- Renewal: values


@pytest.mark.parametrize("status", ["", "PAID", "expired", "pending"])
def test_database_refuses_unknown_renewal_status(status):
    with refused("renewal_status_valid"), transaction.atomic():
        RenewalFactory(status=status)

    assert Renewal.objects.count() == 0


@pytest.mark.parametrize("channel", ["", "shop", "api"])
def test_database_refuses_unknown_renewal_channel(channel):
    with refused("renewal_channel_valid"), transaction.atomic():
        RenewalFactory(channel=channel)

    assert Renewal.objects.count() == 0


@pytest.mark.parametrize("amount", ["-0.01", "-19.90"])
def test_database_refuses_negative_renewal_price(amount):
    with refused("renewal_price_non_negative"), transaction.atomic():
        RenewalFactory(price_amount=Decimal(amount))

    assert Renewal.objects.count() == 0


def test_database_accepts_a_free_renewal():
    # A goodwill renewal costs nothing; it is still a renewal with a price snapshot.
    renewal = RenewalFactory(price_amount=Decimal("0.00"))

    assert Renewal.objects.get(pk=renewal.pk).price_amount == Decimal("0")


@pytest.mark.parametrize("currency", ["XYZ", "eur", ""])
def test_database_refuses_renewal_currency_outside_iso_4217(currency):
    with refused("renewal_currency_iso4217"), transaction.atomic():
        RenewalFactory(currency=currency)

    assert Renewal.objects.count() == 0


def test_database_refuses_renewal_without_validity():
    with refused("renewal_validity_positive"), transaction.atomic():
        RenewalFactory(validity_days=0, period_end=timezone.now() + timedelta(days=1))

    assert Renewal.objects.count() == 0


def test_float_renewal_price_is_refused_with_a_type_error_naming_float():
    with pytest.raises(TypeError, match="float"), transaction.atomic():
        RenewalFactory(price_amount=19.9)

    assert Renewal.objects.count() == 0


# ---------------------------------------------------------------- Usage


def test_database_refuses_importing_the_same_usage_record_twice():
    line = SimLineFactory()
    UsageFactory(line=line, source_record_id="cdr-2026-11-01-000042", data_bytes=5_000_000)

    with refused_as_duplicate(), transaction.atomic():
        UsageFactory(line=line, source_record_id="cdr-2026-11-01-000042", data_bytes=5_000_000)

    assert Usage.objects.filter(line=line).count() == 1


def test_database_refuses_the_same_usage_record_id_on_another_line():
    UsageFactory(source_record_id="cdr-2026-11-01-000043")

    with refused_as_duplicate(), transaction.atomic():
        UsageFactory(source_record_id="cdr-2026-11-01-000043")

    assert Usage.objects.count() == 1


@pytest.mark.parametrize("field", ["data_bytes", "voice_minutes", "sms"])
def test_database_refuses_negative_usage(field):
    with refused(field), transaction.atomic():
        UsageFactory(**{field: -1})

    assert Usage.objects.count() == 0
