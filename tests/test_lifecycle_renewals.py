"""A line's life, driven by a fake clock through three months in Europe/Paris (month end and a
DST change included), with every periodic job ticking as beat would run it: each event
happens once, at the right moment, and no day is lost."""

import io
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail

from accounts.models import SimLine
from notifications.models import NotificationLog
from notifications.services import expiry_reminders_send, low_data_warnings_send
from payments.manual import line_renew_with_manual_payment
from plans.activation import activation_sweep
from plans.expiry import lines_expire
from plans.models import Renewal
from plans.usage_import import usage_import
from reseller.actors import Actor
from tests.factories import CustomerFactory, PlanFactory, PriceFactory, SimLineFactory

PARIS = ZoneInfo("Europe/Paris")


def paris(*args) -> datetime:
    return datetime(*args, tzinfo=PARIS)


@pytest.fixture
def world(db, billing_agent, django_capture_on_commit_callbacks):
    plan = PlanFactory(code="eu-30d-1gb", validity_days=30, data_mb=1000, voice_minutes=60, sms=20)
    PriceFactory(plan=plan, currency="EUR", amount=Decimal("9.90"))
    customer = CustomerFactory(
        full_name="Léa Dubois", language="fr", timezone="Europe/Paris", phone="+33612340000"
    )
    line = SimLineFactory(customer=customer, status="inactive", plan=None, expires_at=None, activated_at=None)
    staff = Actor.staff(billing_agent)
    keys = iter(range(1000))

    def at(moment, action):
        with time_machine.travel(moment, tick=False), django_capture_on_commit_callbacks(execute=True):
            return action()

    def renew():
        return line_renew_with_manual_payment(
            line=SimLine.objects.get(pk=line.pk),
            plan=plan,
            currency="EUR",
            method="cash",
            amount=Decimal("9.90"),
            reference="",
            idempotency_key=f"counter-{next(keys)}",
            actor=staff,
        ).renewal

    def tick(moment):
        """Every periodic job, twice, as two beats or two workers might."""
        for _ in range(2):
            at(
                moment,
                lambda: (
                    expiry_reminders_send(),
                    low_data_warnings_send(),
                    lines_expire(),
                    activation_sweep(),
                ),
            )

    def sent(kind):
        return NotificationLog.objects.filter(line=line, kind=kind, channel="email").count()

    return line, at, renew, tick, sent


def test_a_line_through_three_months(world, compiled_catalogues):
    line, at, renew, tick, sent = world

    # 31 January 10:00: bought at the counter. The period counts calendar days.
    first = at(paris(2026, 1, 31, 10, 0), renew)
    first.refresh_from_db()
    assert first.status == "active"
    assert first.period_start == paris(2026, 1, 31, 10, 0)
    assert first.period_end == paris(2026, 3, 2, 10, 0)
    assert sent("renewal_active") == 1

    # 24 February: 6 days left → the 7-day reminder for this period, once.
    tick(paris(2026, 2, 24, 10, 0))
    assert sent("expiry_7d") == 1

    # 25 February: renewed 5 days early. The new period starts at the old expiry and, across
    # the DST change of 29 March, still ends at 10:00 in Paris (30 days less an hour).
    second = at(paris(2026, 2, 25, 10, 0), renew)
    second.refresh_from_db()
    assert second.period_start == first.period_end
    assert second.period_end == paris(2026, 4, 1, 10, 0)
    assert second.period_end - second.period_start == timedelta(days=30) - timedelta(hours=1)
    line.refresh_from_db()
    assert line.expires_at == second.period_end

    # The first period's 3- and 1-day reminders never come: the line no longer expires then.
    tick(paris(2026, 2, 28, 12, 0))
    tick(paris(2026, 3, 1, 12, 0))
    assert (sent("expiry_3d"), sent("expiry_1d"), sent("expired")) == (0, 0, 0)

    # 10 March: the carrier's file shows 850 MB used in the second period → 80 % warning once.
    usage = (
        "iccid,recorded_at,data_bytes,voice_minutes,sms,record_id\n"
        f"{line.iccid},2026-03-09T18:00:00Z,850000000,12,3,cdr-1\n"
        f"{line.iccid},2026-02-20T18:00:00Z,100000000,0,0,cdr-0\n"  # first period: not counted
    )
    for _ in range(2):  # the same file twice changes nothing
        at(
            paris(2026, 3, 10, 8, 0),
            lambda: usage_import(
                file=io.BytesIO(usage.encode()), filename="d.csv", actor=Actor.system("carrier")
            ),
        )
    tick(paris(2026, 3, 10, 9, 0))
    assert sent("low_data_80") == 1

    # Reminders for the second period at 7, 3 and 1 days, each exactly once.
    tick(paris(2026, 3, 25, 12, 0))
    tick(paris(2026, 3, 29, 12, 0))  # the day clocks go forward
    tick(paris(2026, 3, 31, 12, 0))
    assert (sent("expiry_7d"), sent("expiry_3d"), sent("expiry_1d")) == (2, 1, 1)

    # 1 April 10:00 Paris: the paid period ends; the line is expired at once, the job records it.
    line.refresh_from_db()
    with time_machine.travel(paris(2026, 4, 1, 10, 0, 1), tick=False):
        assert line.effective_status == "expired"
    tick(paris(2026, 4, 1, 10, 5))
    line.refresh_from_db()
    assert line.status == "expired"
    assert sent("expired") == 1

    # 5 April: renewed after expiry → the period starts now, not at the old expiry.
    third = at(paris(2026, 4, 5, 15, 30), renew)
    third.refresh_from_db()
    assert third.period_start == paris(2026, 4, 5, 15, 30)
    line.refresh_from_db()
    assert (line.status, line.expires_at) == ("active", paris(2026, 5, 5, 15, 30))
    assert sent("renewal_active") == 3

    # Three payments, three periods, no overlap, no gap that was paid for.
    periods = list(
        Renewal.objects.filter(line=line).order_by("period_start").values_list("period_start", "period_end")
    )
    assert len(periods) == 3
    assert periods[0][1] == periods[1][0]
    emails = NotificationLog.objects.filter(line=line, channel="email")
    assert emails.count() == 9  # 3 confirmations, 7d ×2, 3d, 1d, 80 %, expired
    assert set(emails.values_list("status", "language")) == {("sent", "fr")}
    assert len(mail.outbox) == 9
    assert {tuple(message.to) for message in mail.outbox} == {(line.customer.email,)}
    assert sum("renouvelée" in message.subject for message in mail.outbox) == 3  # in French
