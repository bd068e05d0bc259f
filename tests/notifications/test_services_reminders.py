"""Expiry reminders follow the clock: 7, 3 and 1 days before the end of each period and at the
end, each once per period and channel, and only the one still true after an outage."""

from datetime import timedelta

import pytest

from notifications.models import NotificationLog
from notifications.services import expiry_reminders_send, reminder_due
from plans.expiry import lines_expire
from plans.renewals import renewal_mark_paid, renewal_request
from reseller.actors import Actor
from tests.factories import SimLineFactory
from tests.notifications.conftest import START, logs

DAY = timedelta(days=1)
ACCOUNT_URL = "http://127.0.0.1:8000/account/"


@pytest.fixture
def line(db, plan, clock):
    """Expires in 10 days, on Friday 11 December 2026 at 10:00 in Paris; its holder reads
    English and has an e-mail address and a phone."""
    return SimLineFactory(plan=plan, expires_at=START + 10 * DAY, customer__language="en")


@pytest.fixture
def run_job(clock, django_capture_on_commit_callbacks):
    """Move the clock to ``at``, run the reminder job and what it sends after commit."""

    def run(at):
        clock.move_to(at)
        with django_capture_on_commit_callbacks(execute=True):
            return expiry_reminders_send()

    return run


@pytest.mark.parametrize(
    ("time_left", "kind"),
    [
        (10 * DAY, None),
        (7 * DAY + timedelta(seconds=1), None),
        (7 * DAY, "expiry_7d"),
        (6 * DAY, "expiry_7d"),
        (3 * DAY + timedelta(seconds=1), "expiry_7d"),
        (3 * DAY, "expiry_3d"),
        (2.5 * DAY, "expiry_3d"),
        (DAY, "expiry_1d"),
        (0.5 * DAY, "expiry_1d"),
    ],
)
def test_the_reminder_due_is_the_smallest_threshold_covering_the_time_left(time_left, kind):
    assert reminder_due(time_left) == kind


def test_a_line_expiring_in_ten_days_gets_nothing(
    line, django_capture_on_commit_callbacks, mailoutbox, sms_outbox
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert expiry_reminders_send() == 0
    assert callbacks == []
    assert NotificationLog.objects.count() == 0
    assert mailoutbox == []
    assert sms_outbox == []


def test_six_days_left_sends_the_seven_day_reminder_once_by_email_only(line, run_job, mailoutbox, sms_outbox):
    six_days_left = line.expires_at - 6 * DAY
    assert run_job(six_days_left) == 1
    assert run_job(six_days_left + timedelta(hours=1)) == 0
    assert logs(line=line) == [("expiry_7d", "email")]
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == [line.customer.email]
    assert mailoutbox[0].subject == "Your SIM plan ends on Dec. 11, 2026"
    assert "Days left: 6" in mailoutbox[0].body
    assert sms_outbox == []  # a week ahead is not worth an SMS
    log = NotificationLog.objects.get()
    assert (log.status, log.attempts, log.period_end, log.sent_at) == (
        "sent",
        1,
        line.expires_at,
        six_days_left,
    )
    assert log.dedupe_key == f"expiry_7d:line={line.pk}:period=2026-12-11T09:00:00Z:email"


def test_two_and_a_half_days_left_sends_the_three_day_reminder(line, run_job, mailoutbox):
    assert run_job(line.expires_at - 6 * DAY) == 1
    assert run_job(line.expires_at - 2.5 * DAY) == 1
    assert logs(line=line) == [("expiry_7d", "email"), ("expiry_3d", "email")]
    assert mailoutbox[1].subject == "3 days left on your SIM plan"


def test_half_a_day_left_sends_the_last_reminder_by_email_and_sms(line, run_job, mailoutbox, sms_outbox):
    assert run_job(line.expires_at - 0.5 * DAY) == 2
    assert logs(line=line) == [("expiry_1d", "email"), ("expiry_1d", "sms")]
    assert mailoutbox[0].subject == "Your SIM plan ends within 24 hours"
    assert [(message.to, message.body) for message in sms_outbox] == [
        (
            line.customer.phone,
            f"Your SIM line ending {line.msisdn[-4:]} expires on December 11 at 10:00. "
            f"Renew now, no days lost: {ACCOUNT_URL}",
        )
    ]


def test_a_line_is_reminded_at_each_step_of_its_last_week_and_at_expiry_once_each(
    line, run_job, mailoutbox, sms_outbox
):
    end = line.expires_at
    steps = [
        (START, 0),
        (end - 6 * DAY, 1),
        (end - 6 * DAY + timedelta(minutes=15), 0),
        (end - 2.5 * DAY, 1),
        (end - 2 * DAY, 0),
        (end - 0.5 * DAY, 2),
        (end - timedelta(hours=1), 0),
        (end + timedelta(minutes=5), 2),
        (end + DAY, 0),
        (end + 10 * DAY, 0),
    ]
    assert [run_job(at) for at, _ in steps] == [written for _, written in steps]
    assert logs(line=line) == [
        ("expiry_7d", "email"),
        ("expiry_3d", "email"),
        ("expiry_1d", "email"),
        ("expiry_1d", "sms"),
        ("expired", "email"),
        ("expired", "sms"),
    ]
    assert [message.subject for message in mailoutbox] == [
        "Your SIM plan ends on Dec. 11, 2026",
        "3 days left on your SIM plan",
        "Your SIM plan ends within 24 hours",
        "Your SIM plan has ended",
    ]
    assert len(sms_outbox) == 2
    assert set(NotificationLog.objects.values_list("status", flat=True)) == {"sent"}


def test_a_job_down_for_five_days_sends_only_the_reminder_still_true(line, run_job, mailoutbox):
    assert run_job(line.expires_at - 6 * DAY) == 1
    assert run_job(line.expires_at - 0.9 * DAY) == 2  # no stale 3-day reminder
    assert logs(line=line, channel="email") == [("expiry_7d", "email"), ("expiry_1d", "email")]
    assert len(mailoutbox) == 2


def test_a_first_run_two_days_before_expiry_sends_the_three_day_reminder_only(line, run_job):
    assert run_job(line.expires_at - 2 * DAY) == 1
    assert logs(line=line) == [("expiry_3d", "email")]


def test_a_renewal_starts_a_new_period_with_its_own_reminders(line, plan, run_job, mailoutbox):
    first_end = line.expires_at
    assert run_job(first_end - 6 * DAY) == 1
    actor = Actor.system("tests")
    renewal = renewal_request(
        line=line, plan=plan, currency="EUR", channel="admin", idempotency_key="renew-early", actor=actor
    )
    renewal_mark_paid(renewal_id=renewal.pk, actor=actor, reason="paid in a test")
    line.refresh_from_db()
    assert line.expires_at == first_end + 30 * DAY  # early renewal: no day lost
    assert run_job(first_end - 2 * DAY) == 0  # the old period's reminders are moot
    assert run_job(line.expires_at - 6 * DAY) == 1
    reminders = NotificationLog.objects.filter(line=line, kind="expiry_7d").order_by("pk")
    assert [log.period_end for log in reminders] == [first_end, line.expires_at]
    assert mailoutbox[-1].subject == "Your SIM plan ends on Jan. 10, 2027"


def test_a_line_already_moved_to_expired_by_the_expiry_job_is_still_told_once(line, run_job):
    assert run_job(line.expires_at + timedelta(minutes=1)) == 2
    assert lines_expire() == 1
    line.refresh_from_db()
    assert line.status == "expired"
    assert run_job(line.expires_at + timedelta(hours=2)) == 0
    assert logs(line=line) == [("expired", "email"), ("expired", "sms")]


def test_a_line_expired_on_the_same_day_and_moved_to_expired_gets_its_message(plan, run_job):
    line = SimLineFactory(plan=plan, expires_at=START - timedelta(hours=3), status="expired")
    assert run_job(START) == 2
    assert logs(line=line) == [("expired", "email"), ("expired", "sms")]


def test_lines_that_expired_more_than_two_days_ago_are_not_told_on_a_first_run(plan, run_job, mailoutbox):
    SimLineFactory(plan=plan, expires_at=START - 3 * DAY)
    SimLineFactory(plan=plan, expires_at=START - 30 * DAY, status="expired")
    assert run_job(START) == 0
    assert NotificationLog.objects.count() == 0
    assert mailoutbox == []


@pytest.mark.parametrize("status", ["suspended", "terminated", "inactive"])
def test_lines_not_active_get_no_reminder(plan, run_job, status):
    SimLineFactory(plan=plan, expires_at=START + 2 * DAY, status=status)
    assert run_job(START) == 0
    assert NotificationLog.objects.count() == 0


def test_a_customer_without_phone_gets_no_sms_and_one_without_email_no_email(
    plan, run_job, sms_outbox, mailoutbox
):
    no_phone = SimLineFactory(plan=plan, expires_at=START + 0.5 * DAY, customer__phone="")
    no_email = SimLineFactory(plan=plan, expires_at=START + 0.5 * DAY, customer__email="")
    assert run_job(START) == 2
    assert logs(line=no_phone) == [("expiry_1d", "email")]
    assert logs(line=no_email) == [("expiry_1d", "sms")]
    assert [message.to for message in mailoutbox] == [[no_phone.customer.email]]
    assert [message.to for message in sms_outbox] == [no_email.customer.phone]


def test_a_line_with_auto_renew_is_told_it_will_renew_by_itself(plan, run_job, mailoutbox, sms_outbox):
    line = SimLineFactory(
        plan=plan,
        expires_at=START + 0.5 * DAY,
        auto_renew=True,
        auto_renew_plan=plan,
        customer__language="en",
    )
    assert run_job(START) == 2
    body = mailoutbox[0].body
    assert f'will renew automatically with the plan "{plan.name_en}"' in body
    assert "Renew now" not in body
    assert sms_outbox[0].body == (
        f"Your SIM line ending {line.msisdn[-4:]} renews automatically before December 1 22:00. "
        f"To manage it: {ACCOUNT_URL}"
    )


def test_dates_are_shown_in_the_customers_own_time_zone(plan, run_job, mailoutbox):
    # Both expire at 2026-12-04 02:00 UTC: 10:00 in Shanghai, 03:00 in Paris.
    expiry = START.replace(hour=2) + 3 * DAY
    shanghai = SimLineFactory(plan=plan, expires_at=expiry, customer__timezone="Asia/Shanghai")
    paris = SimLineFactory(plan=plan, expires_at=expiry, customer__timezone="Europe/Paris")
    assert run_job(START) == 2
    by_address = {message.to[0]: message.body for message in mailoutbox}
    assert (
        "ends in a few days, on Dec. 4, 2026 at 10:00 (Asia/Shanghai time)"
        in by_address[shanghai.customer.email]
    )
    assert (
        "ends in a few days, on Dec. 4, 2026 at 03:00 (Europe/Paris time)" in by_address[paris.customer.email]
    )


def test_the_email_names_the_line_by_number_and_masked_iccid_and_links_to_the_account(
    line, run_job, mailoutbox
):
    run_job(line.expires_at - 6 * DAY)
    body = mailoutbox[0].body
    assert f"on line {line.msisdn} (SIM …{line.iccid[-4:]})" in body
    assert line.iccid not in body
    assert f"Renew online: {ACCOUNT_URL}" in body
    assert "Renewing early loses no days" in body
    assert body.startswith(f"Hello {line.customer.full_name},\n\n")


def test_reminder_queries_do_not_grow_with_the_number_of_lines(plan, clock, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def lines(count, **kwargs):
        # Three in five due for the 3-day reminder (e-mail), two in five just expired (e-mail
        # and SMS): every page of the job's two sweeps has work.
        SimLineFactory.create_batch(count * 3 // 5, plan=plan, expires_at=START + 2 * DAY, **kwargs)
        SimLineFactory.create_batch(count * 2 // 5, plan=plan, expires_at=START - DAY, **kwargs)

    lines(5)
    with CaptureQueriesContext(connection) as five:
        assert expiry_reminders_send() == 3 + 2 * 2
    # 70 rows still fit one INSERT under SQLite's 999 parameters; beyond, it splits them.
    clock.move_to(START + timedelta(minutes=15))
    lines(50)
    with django_assert_max_num_queries(len(five.captured_queries)):
        assert expiry_reminders_send() == 30 + 20 * 2
    # Everyone told already: per sweep, one page of lines and one look-up of their keys (in a
    # savepoint: 2 more statements).
    with django_assert_max_num_queries(8):
        assert expiry_reminders_send() == 0
