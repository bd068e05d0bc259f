"""Staff see paid renewals that the network has not activated, and why."""

from datetime import timedelta

import time_machine
from django.urls import reverse
from django.utils import timezone

from carrier.sandbox import sandbox_fail_next
from plans.activation import ActivationFailed, renewal_activate
from plans.renewals import renewal_mark_paid, renewal_request
from reseller.actors import Actor
from tests.auth.second_factor import login_staff
from tests.factories import SimLineFactory

SYSTEM = Actor.system("tests")


def paid(line, plan, key):
    renewal = renewal_request(
        line=line, plan=plan, currency="EUR", channel="admin", idempotency_key=key, actor=SYSTEM
    )
    return renewal_mark_paid(renewal_id=renewal.pk, actor=SYSTEM, reason="paid in a test")


def test_a_renewal_stuck_for_a_day_shows_on_the_index_and_in_the_queue(client, manager, plan):
    stuck_line = SimLineFactory(plan=plan)
    stuck = paid(stuck_line, plan, "stuck")
    sandbox_fail_next(times=5, iccid=stuck_line.iccid, error="HLR unreachable")
    try:
        renewal_activate(renewal_id=stuck.pk)
    except ActivationFailed:
        pass
    fine = paid(SimLineFactory(plan=plan), plan, "fine")
    renewal_activate(renewal_id=fine.pk)
    login_staff(client, manager)
    with time_machine.travel(timezone.now() + timedelta(hours=25)):
        index = client.get(reverse("admin:index")).content.decode()
        assert "Paid renewals not active after 24 hours" in index
        queue = client.get(reverse("admin:plans_renewal_changelist"), {"queue": "stuck"})
    assert [r.pk for r in queue.context["cl"].result_list] == [stuck.pk]
    page = client.get(reverse("admin:plans_renewal_change", args=[stuck.pk])).content.decode()
    assert "HLR unreachable" in page


def test_the_queue_is_empty_when_everything_is_active(client, billing_agent, plan):
    renewal = paid(SimLineFactory(plan=plan), plan, "ok")
    renewal_activate(renewal_id=renewal.pk)
    login_staff(client, billing_agent)
    with time_machine.travel(timezone.now() + timedelta(hours=25)):
        queue = client.get(reverse("admin:plans_renewal_changelist"), {"queue": "stuck"})
    assert list(queue.context["cl"].result_list) == []
