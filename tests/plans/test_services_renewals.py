"""The renewal service: one purchase, one period, never a lost day."""

import itertools
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine

from accounts.models import AuditEntry, SimLine
from plans.models import Renewal
from plans.periods import period_end
from plans.renewals import IdempotencyConflict, renewal_cancel, renewal_mark_paid, renewal_request
from reseller.actors import Actor
from reseller.errors import DomainError, IllegalTransition
from tests.concurrency import run_concurrently
from tests.factories import PartnerFactory, SimLineFactory

PARIS = ZoneInfo("Europe/Paris")


def request(line, plan, key="k-1", actor=None, currency="EUR", channel="admin"):
    actor = actor or Actor.system("tests")
    return renewal_request(
        line=line, plan=plan, currency=currency, channel=channel, idempotency_key=key, actor=actor
    )


def test_request_snapshots_price_and_allowances(line, plan, staff_actor):
    renewal = request(line, plan, actor=staff_actor)
    plan.data_mb = 1
    plan.save()
    renewal.refresh_from_db()
    assert (renewal.status, renewal.price_amount, renewal.currency) == (
        "pending_payment",
        Decimal("19.900"),
        "EUR",
    )
    assert (renewal.data_mb, renewal.voice_minutes, renewal.sms, renewal.validity_days) == (
        20_000,
        100,
        50,
        30,
    )
    assert (renewal.period_start, renewal.period_end) == (None, None)
    assert AuditEntry.objects.filter(action="renewal.requested", object_id=str(renewal.pk)).count() == 1


def test_partner_channel_gets_the_partner_price(line, plan):
    partner = PartnerFactory()
    renewal = request(line, plan, actor=Actor.for_partner(partner), channel="partner_api")
    assert renewal.price_amount == Decimal("15.000")
    assert renewal.idempotency_scope == f"partner:{partner.pk}"


def test_same_key_returns_the_same_renewal(line, plan):
    first = request(line, plan, key="abc")
    again = request(line, plan, key="abc")
    assert again.pk == first.pk
    assert Renewal.objects.count() == 1
    assert AuditEntry.objects.filter(action="renewal.requested").count() == 1


def test_same_key_for_another_purchase_is_refused(line, plan):
    request(line, plan, key="abc")
    with pytest.raises(IdempotencyConflict):
        request(line, plan, key="abc", currency="CNY")
    assert Renewal.objects.count() == 1


def test_two_partners_may_use_the_same_key(line, plan):
    a, b = PartnerFactory(), PartnerFactory()
    first = request(line, plan, key="1", actor=Actor.for_partner(a), channel="partner_api")
    second = request(line, plan, key="1", actor=Actor.for_partner(b), channel="partner_api")
    assert first.pk != second.pk


@pytest.mark.parametrize(
    ("setup", "code"),
    [
        (
            lambda line, plan: SimLine.objects.filter(pk=line.pk).update(status="terminated"),
            "line_terminated",
        ),
        (lambda line, plan: type(plan).objects.filter(pk=plan.pk).update(is_active=False), "plan_inactive"),
        (
            lambda line, plan: type(plan).objects.filter(pk=plan.pk).update(for_physical=False),
            "plan_sim_kind",
        ),
    ],
)
def test_request_refused_by_a_rule_creates_nothing(line, plan, setup, code):
    setup(line, plan)
    line.refresh_from_db()
    plan.refresh_from_db()
    with pytest.raises(DomainError) as excinfo:
        request(line, plan)
    assert excinfo.value.code == code
    assert Renewal.objects.count() == 0


def test_request_in_a_currency_without_price_is_refused(line, plan):
    with pytest.raises(DomainError) as excinfo:
        request(line, plan, currency="USD")
    assert excinfo.value.code == "no_price"


def test_early_renewal_starts_at_the_current_expiry(line, plan):
    old_expiry = datetime(2026, 12, 10, 9, 0, tzinfo=UTC)
    SimLine.objects.filter(pk=line.pk).update(expires_at=old_expiry)
    with time_machine.travel(old_expiry - timedelta(days=5), tick=False):
        renewal = renewal_mark_paid(
            renewal_id=request(line, plan).pk, actor=Actor.system("tests"), reason="paid in a test"
        )
    assert renewal.period_start == old_expiry
    assert renewal.period_end == old_expiry + timedelta(days=30)
    line.refresh_from_db()
    assert line.expires_at == renewal.period_end


def test_renewal_after_expiry_starts_now(line, plan):
    SimLine.objects.filter(pk=line.pk).update(status="expired", expires_at=datetime(2026, 11, 1, tzinfo=UTC))
    now = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    with time_machine.travel(now, tick=False):
        renewal = renewal_mark_paid(
            renewal_id=request(line, plan).pk, actor=Actor.system("tests"), reason="paid in a test"
        )
    assert renewal.period_start == now
    line.refresh_from_db()
    assert (line.status, line.expires_at) == ("active", now + timedelta(days=30))


def test_paying_twice_grants_one_period(line, plan):
    renewal = request(line, plan)
    first = renewal_mark_paid(renewal_id=renewal.pk, actor=Actor.system("tests"), reason="paid in a test")
    line.refresh_from_db()
    expiry = line.expires_at
    second = renewal_mark_paid(renewal_id=renewal.pk, actor=Actor.system("tests"), reason="paid in a test")
    line.refresh_from_db()
    assert (second.period_start, second.period_end) == (first.period_start, first.period_end)
    assert line.expires_at == expiry
    assert AuditEntry.objects.filter(action="renewal.paid").count() == 1


def test_a_never_used_line_becomes_active_when_paid(plan):
    line = SimLineFactory(status="inactive", plan=None, expires_at=None, activated_at=None)
    renewal_mark_paid(renewal_id=request(line, plan).pk, actor=Actor.system("tests"), reason="paid in a test")
    line.refresh_from_db()
    assert line.status == "active"
    assert line.plan == plan
    assert line.activated_at is not None


def test_a_cancelled_renewal_cannot_be_paid(line, plan):
    renewal = renewal_cancel(renewal=request(line, plan), actor=Actor.system("tests"), reason="gave up")
    with pytest.raises(DomainError):
        renewal_mark_paid(renewal_id=renewal.pk, actor=Actor.system("tests"), reason="paid in a test")
    with pytest.raises(IllegalTransition):
        renewal_cancel(renewal=renewal, actor=Actor.system("tests"), reason="again")


def test_a_paid_renewal_cannot_be_cancelled(line, plan):
    renewal = renewal_mark_paid(
        renewal_id=request(line, plan).pk, actor=Actor.system("tests"), reason="paid in a test"
    )
    with pytest.raises(IllegalTransition):
        renewal_cancel(renewal=renewal, actor=Actor.system("tests"), reason="oops")


# --- Calendar days in the customer's zone --------------------------------------------------


def test_a_period_across_the_spring_dst_change_ends_at_the_same_wall_clock_time():
    start = datetime(2026, 3, 15, 10, 0, tzinfo=PARIS)  # CET; 29 March 2026 moves to CEST
    end = period_end(start, 30, "Europe/Paris")
    assert end.astimezone(PARIS) == datetime(2026, 4, 14, 10, 0, tzinfo=PARIS)
    assert end - start == timedelta(days=30) - timedelta(hours=1)


def test_a_period_across_the_autumn_dst_change_ends_at_the_same_wall_clock_time():
    start = datetime(2026, 10, 20, 10, 0, tzinfo=PARIS)  # CEST; 25 October 2026 back to CET
    end = period_end(start, 7, "Europe/Paris")
    assert end.astimezone(PARIS) == datetime(2026, 10, 27, 10, 0, tzinfo=PARIS)
    assert end - start == timedelta(days=7, hours=1)


def test_a_period_ending_in_the_skipped_hour_moves_past_the_gap():
    start = datetime(2026, 3, 28, 2, 30, tzinfo=PARIS)
    end = period_end(start, 1, "Europe/Paris")  # 29 March 02:30 does not exist in Paris
    assert end.astimezone(PARIS).hour == 3


def test_a_period_from_the_31st_of_january_counts_days_not_months():
    start = datetime(2026, 1, 31, 12, 0, tzinfo=PARIS)
    assert period_end(start, 30, "Europe/Paris").astimezone(PARIS) == datetime(
        2026, 3, 2, 12, 0, tzinfo=PARIS
    )


def test_periods_follow_the_customers_own_zone(plan):
    line = SimLineFactory(plan=plan, customer__timezone="Asia/Shanghai", status="inactive", expires_at=None)
    with time_machine.travel(datetime(2026, 3, 15, 2, 0, tzinfo=UTC), tick=False):
        renewal = renewal_mark_paid(
            renewal_id=request(line, plan).pk, actor=Actor.system("tests"), reason="paid in a test"
        )
    # Shanghai has no DST: exactly 30 × 24 h, although Paris changes clocks in between.
    assert renewal.period_end - renewal.period_start == timedelta(days=30)


# --- Races on PostgreSQL ---------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_ten_concurrent_requests_with_one_key_create_one_renewal(on_postgres, plan):
    line = SimLineFactory(plan=plan)
    results = run_concurrently(lambda i: request(line, plan, key="same-key").pk, 10)
    assert all(isinstance(r, int) for r in results), results
    assert len(set(results)) == 1
    assert Renewal.objects.filter(line=line).count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_ten_concurrent_paid_renewals_stack_without_gap_or_overlap(on_postgres, plan):
    line = SimLineFactory(plan=plan, expires_at=datetime(2030, 1, 1, tzinfo=UTC))

    def renew(i):
        renewal = request(line, plan, key=f"key-{i}")
        return renewal_mark_paid(
            renewal_id=renewal.pk, actor=Actor.system("tests"), reason="paid in a test"
        ).pk

    results = run_concurrently(renew, 10)
    assert all(isinstance(r, int) for r in results), results
    periods = list(
        Renewal.objects.filter(line=line).order_by("period_start").values_list("period_start", "period_end")
    )
    assert len(periods) == 10
    assert periods[0][0] == datetime(2030, 1, 1, tzinfo=UTC)
    for (_, end), (next_start, _) in itertools.pairwise(periods):
        assert next_start == end
    line.refresh_from_db()
    assert line.expires_at == periods[-1][1]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_control_without_the_line_lock_periods_overlap(on_postgres, plan):
    """Shows the race the line lock prevents: reading the expiry without a lock, concurrent
    payments all start at the same moment and overlap."""
    line = SimLineFactory(plan=plan, expires_at=datetime(2030, 1, 1, tzinfo=UTC))
    all_have_read = threading.Barrier(10)

    def renew_naively(i):
        expiry = SimLine.objects.get(pk=line.pk).expires_at
        all_have_read.wait(timeout=30)  # forces the interleaving, independent of thread timing
        end = expiry + timedelta(days=30)
        SimLine.objects.filter(pk=line.pk).update(expires_at=end)
        return expiry

    starts = run_concurrently(renew_naively, 10)
    assert set(starts) == {datetime(2030, 1, 1, tzinfo=UTC)}


# --- Plans that start at first use ----------------------------------------------------------


@pytest.fixture
def first_use_plan(db):
    from tests.factories import PlanFactory, PriceFactory

    plan = PlanFactory(code="eu-cn-15d", validity_days=15, activation_policy="first_use")
    PriceFactory(plan=plan, currency="EUR", amount=Decimal("24.90"))
    return plan


def test_a_first_use_plan_bought_ahead_waits_for_the_first_usage(first_use_plan):
    from plans.renewals import renewals_start_at_first_use

    line = SimLineFactory(plan=None, status="inactive", expires_at=None)
    with time_machine.travel(datetime(2026, 6, 20, tzinfo=UTC), tick=False):  # bought before the trip
        renewal = renewal_mark_paid(
            renewal_id=request(line, first_use_plan).pk, actor=Actor.system("tests"), reason="paid in a test"
        )
    assert (renewal.status, renewal.period_start, renewal.period_end) == ("paid", None, None)
    line.refresh_from_db()
    assert (line.status, line.expires_at, line.plan) == ("active", None, first_use_plan)

    landed = datetime(2026, 7, 1, 6, 30, tzinfo=UTC)  # first usage record, in Shanghai say
    with time_machine.travel(landed + timedelta(hours=6), tick=False):  # the carrier's file arrives
        started = renewals_start_at_first_use(line_id=line.pk, at=landed, actor=Actor.system("usage"))
    assert [r.pk for r in started] == [renewal.pk]
    renewal.refresh_from_db()
    line.refresh_from_db()
    assert renewal.period_start == landed
    assert renewal.period_end == period_end(landed, 15, line.customer.timezone)
    assert line.expires_at == renewal.period_end
    # A later usage record changes nothing.
    later = landed + timedelta(days=1)
    assert renewals_start_at_first_use(line_id=line.pk, at=later, actor=Actor.system("u")) == []
    renewal.refresh_from_db()
    assert renewal.period_start == landed


def test_two_first_use_passes_bought_ahead_stack_from_the_first_usage(first_use_plan):
    from plans.renewals import renewals_start_at_first_use

    line = SimLineFactory(plan=None, status="inactive", expires_at=None)
    with time_machine.travel(datetime(2026, 6, 20, tzinfo=UTC), tick=False):
        first = renewal_mark_paid(
            renewal_id=request(line, first_use_plan, key="a").pk,
            actor=Actor.system("t"),
            reason="paid in a test",
        )
        second = renewal_mark_paid(
            renewal_id=request(line, first_use_plan, key="b").pk,
            actor=Actor.system("t"),
            reason="paid in a test",
        )
    landed = datetime(2026, 7, 1, 6, 30, tzinfo=UTC)
    with time_machine.travel(landed + timedelta(hours=6), tick=False):
        renewals_start_at_first_use(line_id=line.pk, at=landed, actor=Actor.system("usage"))
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.period_start == landed
    assert second.period_start == first.period_end


def test_a_first_use_plan_renewed_during_a_running_period_starts_at_its_end(line, first_use_plan):
    renewal = renewal_mark_paid(
        renewal_id=request(line, first_use_plan).pk, actor=Actor.system("tests"), reason="paid in a test"
    )
    previous = SimLine.objects.get(pk=line.pk).expires_at
    assert renewal.period_end == period_end(renewal.period_start, 15, "Europe/Paris")
    assert renewal.period_start <= previous


@pytest.mark.parametrize(
    ("first_record", "expected_start"),
    [
        (datetime(2026, 6, 1, tzinfo=UTC), datetime(2026, 6, 20, tzinfo=UTC)),  # before payment: paid_at
        (datetime(2026, 8, 1, tzinfo=UTC), datetime(2026, 7, 2, tzinfo=UTC)),  # carrier clock ahead: now
    ],
)
def test_a_first_use_period_never_starts_before_payment_nor_in_the_future(
    first_use_plan, first_record, expected_start
):
    from plans.renewals import renewals_start_at_first_use

    line = SimLineFactory(plan=None, status="expired", expires_at=datetime(2026, 5, 1, tzinfo=UTC))
    with time_machine.travel(datetime(2026, 6, 20, tzinfo=UTC), tick=False):
        renewal = renewal_mark_paid(
            renewal_id=request(line, first_use_plan).pk, actor=Actor.system("t"), reason="paid in a test"
        )
    line.refresh_from_db()
    assert (line.status, line.expires_at) == ("active", None)  # not re-expired by the job meanwhile
    with time_machine.travel(datetime(2026, 7, 2, tzinfo=UTC), tick=False):
        renewals_start_at_first_use(line_id=line.pk, at=first_record, actor=Actor.system("usage"))
    renewal.refresh_from_db()
    line.refresh_from_db()
    assert renewal.period_start == expected_start
    assert (line.status, line.expires_at) == ("active", renewal.period_end)
