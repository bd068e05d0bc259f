"""The clock at awkward moments, in the customer's zone (Europe/Paris): a renewal paid across
the last Sunday of March or October (a 23- or 25-hour day), at 02:30 on a night the clock
skips or repeats it, and on 31 January with a 30-day plan (no 31 February to land on). The
real services run under a moved clock: the period's end, the expiry job, the auto-renew
window, the reminders and the days left all agree with the customer's clock."""

import zoneinfo
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from accounts.line_views import days_left
from accounts.models import SimLine
from notifications.models import NotificationLog
from notifications.services import expiry_reminders_send
from payments.autorenew import lines_due
from plans.expiry import lines_expire
from plans.renewals import renewal_mark_paid, renewal_request
from reseller.actors import Actor
from tests.factories import PlanFactory, PriceFactory, SimLineFactory

pytestmark = pytest.mark.faults

PARIS = zoneinfo.ZoneInfo("Europe/Paris")
ACTOR = Actor.system("fault suite")


def paris(*args, fold: int = 0) -> datetime:
    return datetime(*args, tzinfo=PARIS, fold=fold)


def _renew_at(moment: datetime, validity_days: int) -> SimLine:
    """A line with nothing left, renewed and paid at ``moment``."""
    plan = PlanFactory(code=f"p{validity_days}", validity_days=validity_days)
    PriceFactory(plan=plan, currency="EUR")
    line = SimLineFactory(plan=plan, expires_at=None, customer__timezone="Europe/Paris")
    with time_machine.travel(moment, tick=False):
        renewal = renewal_request(
            line=line, plan=plan, currency="EUR", channel="admin", idempotency_key="clock", actor=ACTOR
        )
        renewal_mark_paid(renewal_id=renewal.pk, actor=ACTOR, reason="paid in cash")
    line.refresh_from_db()
    return line


@pytest.mark.parametrize(
    ("bought", "validity", "ends"),
    [
        # Spring forward on Sunday 28 March 2027: 7 calendar days are 167 hours.
        (paris(2027, 3, 25, 10), 7, paris(2027, 4, 1, 10)),
        # Fall back on Sunday 31 October 2027: 7 calendar days are 169 hours.
        (paris(2027, 10, 28, 10), 7, paris(2027, 11, 4, 10)),
        # 31 January + 30 days: 2 March, or 1 March in a leap year.
        (paris(2027, 1, 31, 10), 30, paris(2027, 3, 2, 10)),
        (paris(2028, 1, 31, 23, 30), 30, paris(2028, 3, 1, 23, 30)),
        # 02:30 on 28 March 2027 does not exist: the period ends just past the gap, at 03:30.
        (paris(2027, 3, 21, 2, 30), 7, paris(2027, 3, 28, 3, 30)),
        # 02:30 on 31 October 2027 happens twice: the first one (summer time) ends it.
        (paris(2027, 10, 24, 2, 30), 7, paris(2027, 10, 31, 2, 30, fold=0)),
    ],
)
def test_a_period_ends_at_the_same_wall_time_in_the_customers_zone(db, bought, validity, ends):
    line = _renew_at(bought, validity)
    assert line.expires_at == ends.astimezone(UTC)
    assert line.expires_at.astimezone(PARIS).replace(tzinfo=None) == ends.replace(tzinfo=None)

    # The expiry job ends it at that instant, not an hour early or late.
    assert lines_expire(now=line.expires_at - timedelta(seconds=1)) == 0
    assert lines_expire(now=line.expires_at) == 1


def test_the_auto_renew_window_is_48_real_hours_across_a_dst_change(db):
    line = _renew_at(paris(2027, 10, 28, 10), 7)  # ends 4 November, after the October change
    SimLine.objects.filter(pk=line.pk).update(auto_renew=True, auto_renew_plan=line.plan, status="active")
    window_opens = line.expires_at - timedelta(hours=48)
    assert not lines_due(now=window_opens - timedelta(minutes=1)).filter(pk=line.pk).exists()
    assert lines_due(now=window_opens).filter(pk=line.pk).exists()
    assert not lines_due(now=line.expires_at).filter(pk=line.pk).exists()


@pytest.mark.parametrize(
    ("expires", "now", "reminder", "days"),
    [
        # Autumn: the evening before the change, 23 h 30 on the clock but 24 h 30 in fact.
        (paris(2027, 10, 31, 10), paris(2027, 10, 30, 10, 30), "expiry_1d", 1),
        (paris(2027, 10, 31, 10), paris(2027, 10, 30, 9, 30), "expiry_3d", 2),
        # Spring: 24 h 30 on the clock but 23 h 30 in fact.
        (paris(2027, 3, 28, 10), paris(2027, 3, 27, 9, 30), "expiry_3d", 2),
        (paris(2027, 3, 28, 10), paris(2027, 3, 27, 10, 30), "expiry_1d", 1),
        # Three days on the clock across the October change (73 real hours).
        (paris(2027, 11, 1, 10), paris(2027, 10, 29, 10), "expiry_3d", 3),
    ],
)
def test_reminders_and_days_left_count_days_on_the_customers_clock(
    db, plan, expires, now, reminder, days, django_capture_on_commit_callbacks
):
    line = SimLineFactory(
        plan=plan, status="active", expires_at=expires.astimezone(UTC), customer__timezone="Europe/Paris"
    )
    with time_machine.travel(now, tick=False), django_capture_on_commit_callbacks(execute=True):
        expiry_reminders_send(now=now.astimezone(UTC))
        assert days_left(line, now.astimezone(UTC)) == days
    assert set(NotificationLog.objects.filter(line=line).values_list("kind", flat=True)) == {reminder}
