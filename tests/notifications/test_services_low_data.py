"""The low-data warning goes once per period, when 80 % of the period's data is used."""

from datetime import timedelta

import pytest

from notifications.models import NotificationLog
from notifications.services import low_data_warnings_send
from tests.factories import PlanFactory, RenewalFactory, SimLineFactory, UsageFactory
from tests.notifications.conftest import START, logs

DAY = timedelta(days=1)
MB = 1_000_000


@pytest.fixture
def small_plan(db):
    return PlanFactory(validity_days=30, data_mb=1_000)


@pytest.fixture
def line(small_plan, clock):
    """In the first of two stacked 30-day periods of 1,000 MB each, started a day ago."""
    line = SimLineFactory(plan=small_plan, expires_at=START + 59 * DAY, customer__language="en")
    RenewalFactory(line=line, period_start=START - DAY, period_end=START + 29 * DAY)
    RenewalFactory(line=line, period_start=START + 29 * DAY, period_end=START + 59 * DAY)
    return line


@pytest.fixture
def run_job(clock, django_capture_on_commit_callbacks):
    def run(at):
        clock.move_to(at)
        with django_capture_on_commit_callbacks(execute=True):
            return low_data_warnings_send()

    return run


def use(line, megabytes, at):
    UsageFactory(line=line, recorded_at=at, data_bytes=megabytes * MB)


def test_79_percent_used_sends_nothing(line, run_job, mailoutbox, sms_outbox):
    use(line, 799, START)
    assert run_job(START + timedelta(hours=1)) == 0
    assert NotificationLog.objects.count() == 0
    assert mailoutbox == []
    assert sms_outbox == []


def test_80_percent_used_warns_once_by_email_and_sms_with_the_data_left(
    line, run_job, mailoutbox, sms_outbox
):
    use(line, 799, START)
    use(line, 11, START + timedelta(hours=1))
    assert run_job(START + timedelta(hours=2)) == 2
    assert run_job(START + timedelta(hours=3)) == 0
    use(line, 100, START + timedelta(hours=4))  # 91 %: still the same period, no second warning
    assert run_job(START + timedelta(hours=5)) == 0
    assert logs(line=line) == [("low_data_80", "email"), ("low_data_80", "sms")]
    assert mailoutbox[0].subject == "You have used 81% of your mobile data"
    assert "Remaining: 190 MB, until Dec. 30, 2026 at 10:00 (Europe/Paris time)." in mailoutbox[0].body
    assert sms_outbox[0].body == (
        f"Your SIM line ending {line.msisdn[-4:]} has used 81% of its data: 190 MB left until December 30. "
        "Renew: http://127.0.0.1:8000/account/"
    )
    assert NotificationLog.objects.filter(kind="low_data_80").first().period_end == START + 29 * DAY


def test_the_next_period_gets_its_own_warning(line, run_job):
    use(line, 900, START)
    assert run_job(START + timedelta(hours=1)) == 2
    second_period = START + 29 * DAY
    assert run_job(second_period + timedelta(hours=1)) == 0  # fresh allowance, nothing used yet
    use(line, 850, second_period + DAY)
    assert run_job(second_period + DAY + timedelta(hours=1)) == 2
    ends = (
        NotificationLog.objects.filter(line=line, channel="email")
        .order_by("pk")
        .values_list("period_end", flat=True)
    )
    assert list(ends) == [START + 29 * DAY, START + 59 * DAY]


def test_a_line_over_its_allowance_is_warned_with_nothing_left(line, run_job, mailoutbox):
    use(line, 1_200, START)
    assert run_job(START + timedelta(hours=1)) == 2
    assert mailoutbox[0].subject == "You have used 100% of your mobile data"
    assert "Remaining: 0 MB" in mailoutbox[0].body


def test_unlimited_plans_and_expired_lines_are_never_warned(db, run_job):
    unlimited = SimLineFactory(plan=PlanFactory(data_mb=None), expires_at=START + 29 * DAY)
    RenewalFactory(line=unlimited, data_mb=None, period_start=START - DAY, period_end=START + 29 * DAY)
    ended = SimLineFactory(plan=PlanFactory(data_mb=1_000), expires_at=START - timedelta(hours=1))
    RenewalFactory(line=ended, period_start=START - 30 * DAY, period_end=START - timedelta(hours=1))
    for line in (unlimited, ended):
        use(line, 5_000, START - timedelta(hours=2))
    assert run_job(START) == 0
    assert NotificationLog.objects.count() == 0


def test_low_data_queries_do_not_grow_with_the_number_of_lines(
    small_plan, clock, django_assert_max_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def lines(count):
        for _ in range(count):
            line = SimLineFactory(plan=small_plan, expires_at=START + 29 * DAY, customer__phone="")
            RenewalFactory(line=line, period_start=START - DAY, period_end=START + 29 * DAY)
            use(line, 850, START - timedelta(hours=1))

    lines(5)
    with CaptureQueriesContext(connection) as five:
        assert low_data_warnings_send() == 5
    lines(50)
    with django_assert_max_num_queries(len(five.captured_queries)):
        assert low_data_warnings_send() == 50
