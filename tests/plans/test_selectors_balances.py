"""Remaining balances: the current period's allowances, plus applied balance corrections, minus
the usage recorded in that period (1 MB = 1,000,000 bytes)."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from plans.balances import line_balance, line_balances
from tests.factories import CorrectionFactory, RenewalFactory, SimLineFactory, UsageFactory

pytestmark = pytest.mark.django_db

PERIOD_START = datetime(2026, 11, 1, tzinfo=UTC)
PERIOD_END = PERIOD_START + timedelta(days=30)
AT = datetime(2026, 11, 15, 12, 0, tzinfo=UTC)
MB = 1_000_000


def period_renewal(line, **kwargs):
    """A 30-day period from 1 November: 1,000 MB, 100 minutes, 50 SMS unless told."""
    defaults = {"period_start": PERIOD_START, "data_mb": 1_000, "voice_minutes": 100, "sms": 50}
    return RenewalFactory(line=line, **{**defaults, **kwargs})


def use(line, recorded_at=AT, data_bytes=0, voice_minutes=0, sms=0):
    return UsageFactory(
        line=line, recorded_at=recorded_at, data_bytes=data_bytes, voice_minutes=voice_minutes, sms=sms
    )


def applied_correction(line, decided_at=AT, **deltas):
    return CorrectionFactory(line=line, status="applied", decided_at=decided_at, **deltas)


@pytest.fixture
def line():
    line = SimLineFactory()
    period_renewal(line)
    return line


def test_remaining_is_the_allowance_minus_the_usage_of_the_period(line):
    use(line, data_bytes=200_000_000, voice_minutes=7, sms=3)
    use(line, data_bytes=50_500_000, voice_minutes=3)

    balance = line_balance(line, at=AT)

    assert (balance.period_start, balance.period_end) == (PERIOD_START, PERIOD_END)
    assert (balance.data_allowance_mb, balance.data_used_bytes) == (1_000, 250_500_000)
    assert balance.data_used_mb == Decimal("250.5")
    assert balance.data_remaining_bytes == 749_500_000
    assert balance.data_remaining_mb == Decimal("749.5")
    assert balance.data_over_mb == Decimal(0)
    assert balance.data_used_percent == Decimal("25.0")
    assert (balance.voice_remaining_minutes, balance.sms_remaining) == (90, 47)
    assert balance.depleted is False


def test_usage_outside_the_period_or_of_another_line_is_ignored(line):
    use(line, recorded_at=PERIOD_START - timedelta(seconds=1), data_bytes=1 * MB)
    use(line, recorded_at=PERIOD_START, data_bytes=2 * MB)  # first instant of the period
    use(line, recorded_at=PERIOD_END - timedelta(microseconds=1), data_bytes=4 * MB)
    use(line, recorded_at=PERIOD_END, data_bytes=8 * MB)  # the next period's
    use(SimLineFactory(), data_bytes=16 * MB)

    assert line_balance(line, at=AT).data_used_bytes == 6 * MB


def test_an_applied_balance_correction_adds_data_minutes_and_sms(line):
    use(line, data_bytes=1_200 * MB)
    applied_correction(line, data_mb_delta=500, voice_minutes_delta=20, sms_delta=5)

    balance = line_balance(line, at=AT)

    assert (balance.data_allowance_mb, balance.voice_allowance_minutes, balance.sms_allowance) == (
        1_500,
        120,
        55,
    )
    assert balance.data_remaining_mb == Decimal(300)
    assert balance.depleted is False


def test_only_applied_balance_corrections_decided_in_the_period_count(line):
    CorrectionFactory(line=line, data_mb_delta=100)  # requested, not decided
    CorrectionFactory(line=line, status="rejected", decided_at=AT, data_mb_delta=200)
    applied_correction(line, decided_at=PERIOD_START - timedelta(days=1), data_mb_delta=400)  # last period's
    applied_correction(line, kind="expiry", data_mb_delta=800, expiry_delta=timedelta(days=2))
    applied_correction(SimLineFactory(), data_mb_delta=1_600)
    applied_correction(line, data_mb_delta=-50)

    assert line_balance(line, at=AT).data_allowance_mb == 950


def test_a_deduction_larger_than_the_allowance_leaves_zero_not_a_negative_allowance(line):
    applied_correction(line, data_mb_delta=-5_000)

    balance = line_balance(line, at=AT)

    assert (balance.data_allowance_mb, balance.data_remaining_bytes, balance.depleted) == (0, 0, True)
    assert balance.data_used_percent == Decimal(100)


def test_unlimited_plan_has_no_remaining_data_and_never_depletes():
    line = SimLineFactory()
    period_renewal(line, data_mb=None)
    use(line, data_bytes=80_000 * MB, voice_minutes=100, sms=50)
    applied_correction(line, data_mb_delta=500)

    balance = line_balance(line, at=AT)

    assert (balance.data_allowance_mb, balance.data_unlimited) == (None, True)
    assert (balance.data_remaining_bytes, balance.data_remaining_mb) == (None, None)
    assert (balance.data_over_mb, balance.data_used_percent) == (Decimal(0), None)
    assert balance.data_used_bytes == 80_000 * MB
    assert (balance.voice_remaining_minutes, balance.sms_remaining) == (0, 0)
    assert balance.depleted is False


def test_line_is_depleted_when_data_used_reaches_the_allowance(line):
    use(line, data_bytes=1_000 * MB)

    balance = line_balance(line, at=AT)

    assert balance.depleted is True
    assert (balance.data_remaining_bytes, balance.data_over_bytes) == (0, 0)
    assert balance.data_used_percent == Decimal(100)


def test_usage_beyond_the_allowance_shows_zero_remaining_and_how_much_over(line):
    use(line, data_bytes=1_000 * MB + 1)
    use(line, data_bytes=249_999_999)

    balance = line_balance(line, at=AT)

    assert (balance.depleted, balance.data_remaining_mb) == (True, Decimal(0))
    assert balance.data_over_mb == Decimal(250)
    assert balance.data_used_percent == Decimal("125.0")


def test_used_up_minutes_and_sms_do_not_deplete_the_line(line):
    use(line, data_bytes=1 * MB, voice_minutes=150, sms=50)

    balance = line_balance(line, at=AT)

    assert (balance.voice_remaining_minutes, balance.sms_remaining) == (0, 0)
    assert balance.depleted is False


def test_a_line_without_a_current_period_has_an_empty_balance(django_assert_num_queries):
    line = SimLineFactory()
    period_renewal(line, period_start=PERIOD_START - timedelta(days=60))  # ended before AT
    period_renewal(line, status="pending_payment", paid_at=None, period_start=None, period_end=None)
    use(line, data_bytes=1 * MB)

    with django_assert_num_queries(1):
        balance = line_balance(line, at=AT)

    assert balance.has_period is False
    assert (balance.period_start, balance.period_end, balance.renewal_ids) == (None, None, ())
    assert (balance.data_allowance_mb, balance.data_used_bytes, balance.data_remaining_bytes) == (0, 0, 0)
    assert (balance.data_used_percent, balance.depleted) == (None, False)


@pytest.mark.parametrize("status", ["refunded", "failed", "cancelled"])
def test_renewals_that_were_not_paid_or_were_refunded_grant_nothing(status):
    line = SimLineFactory()
    period_renewal(line, status=status)

    assert line_balance(line, at=AT).has_period is False


@pytest.mark.parametrize("status", ["paid", "activating", "active"])
def test_paid_activating_and_active_renewals_grant_their_period(status):
    line = SimLineFactory()
    renewal = period_renewal(line, status=status)

    assert line_balance(line, at=AT).renewal_ids == (renewal.pk,)


def test_an_early_renewal_stacked_after_the_current_period_counts_only_once_it_starts(line):
    stacked = period_renewal(line, period_start=PERIOD_END, data_mb=2_000)
    use(line, data_bytes=600 * MB)  # in the current period
    use(line, recorded_at=PERIOD_END + timedelta(days=1), data_bytes=100 * MB)

    now = line_balance(line, at=AT)
    later = line_balance(line, at=PERIOD_END + timedelta(days=2))

    assert (now.data_allowance_mb, now.data_used_bytes, now.period_end) == (1_000, 600 * MB, PERIOD_END)
    assert stacked.pk not in now.renewal_ids
    assert (later.renewal_ids, later.period_start) == ((stacked.pk,), PERIOD_END)
    assert (later.data_allowance_mb, later.data_used_bytes) == (2_000, 100 * MB)


def test_overlapping_periods_add_up_and_span_both(line):
    # Should not happen (the renewal service stacks periods); if it does, nothing is lost.
    period_renewal(line, period_start=PERIOD_START + timedelta(days=10), data_mb=500, voice_minutes=0, sms=0)
    use(line, recorded_at=PERIOD_END + timedelta(days=5), data_bytes=3 * MB)

    balance = line_balance(line, at=AT)

    assert (balance.period_start, balance.period_end) == (PERIOD_START, PERIOD_END + timedelta(days=10))
    assert (balance.data_allowance_mb, balance.voice_allowance_minutes, balance.sms_allowance) == (
        1_500,
        100,
        50,
    )
    assert balance.data_used_bytes == 3 * MB


def test_one_unlimited_renewal_among_overlapping_ones_makes_data_unlimited(line):
    period_renewal(line, data_mb=None)

    assert line_balance(line, at=AT).data_unlimited is True


def test_line_balance_takes_at_most_two_queries(line, django_assert_max_num_queries):
    use(line, data_bytes=1 * MB)
    applied_correction(line, data_mb_delta=10)

    with django_assert_max_num_queries(2):
        balance = line_balance(line, at=AT)

    assert (balance.data_allowance_mb, balance.data_used_bytes) == (1_010, 1 * MB)


def test_line_balance_defaults_to_now():
    line = SimLineFactory()
    RenewalFactory(line=line, data_mb=100)  # period starting now
    UsageFactory(line=line, data_bytes=25 * MB)

    balance = line_balance(line)

    assert (balance.has_period, balance.data_remaining_mb) == (True, Decimal(75))


def _page_of_lines(count: int):
    lines = []
    for n in range(count):
        line = SimLineFactory()
        period_renewal(line, data_mb=1_000 + n)
        use(line, data_bytes=(n + 1) * MB)
        applied_correction(line, data_mb_delta=n)
        lines.append(line)
    return lines


def test_line_balances_on_20_lines_uses_the_same_queries_as_on_2():
    two = _page_of_lines(2)
    twenty = _page_of_lines(20)
    lines_without_period = [SimLineFactory() for _ in range(3)]

    with CaptureQueriesContext(connection) as on_two:
        line_balances(two, at=AT)
    with CaptureQueriesContext(connection) as on_twenty:
        balances = line_balances([*twenty, *lines_without_period], at=AT)

    assert len(on_two.captured_queries) == len(on_twenty.captured_queries) == 2
    assert set(balances) == {line.pk for line in [*twenty, *lines_without_period]}
    for n, line in enumerate(twenty):
        assert (balances[line.pk].data_allowance_mb, balances[line.pk].data_used_bytes) == (
            1_000 + 2 * n,
            (n + 1) * MB,
        )
    assert all(not balances[line.pk].has_period for line in lines_without_period)


def test_each_line_counts_only_what_falls_in_its_own_period_when_balances_are_read_together():
    early, late = SimLineFactory(), SimLineFactory()
    period_renewal(early)  # 1 to 31 November
    period_renewal(late, period_start=PERIOD_START + timedelta(days=10))  # 11 November to 11 December
    inside_early_only = PERIOD_START + timedelta(days=5)
    inside_late_only = PERIOD_END + timedelta(days=5)
    at = PERIOD_START + timedelta(days=15)
    for line in (early, late):
        use(line, recorded_at=inside_early_only, data_bytes=1 * MB)
        use(line, recorded_at=at, data_bytes=2 * MB)
        use(line, recorded_at=inside_late_only, data_bytes=4 * MB)
        applied_correction(line, decided_at=inside_early_only, data_mb_delta=10)
        applied_correction(line, decided_at=inside_late_only, data_mb_delta=20)

    balances = line_balances([early, late], at=at)

    assert (balances[early.pk].data_used_bytes, balances[early.pk].data_allowance_mb) == (3 * MB, 1_010)
    assert (balances[late.pk].data_used_bytes, balances[late.pk].data_allowance_mb) == (6 * MB, 1_020)
