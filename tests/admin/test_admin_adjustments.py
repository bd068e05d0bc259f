"""Staff adjust a line from its page; a manager decides the large ones; a wrong one is
reversed; every refusal is a message on the form."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Correction
from tests.auth.second_factor import login_staff
from tests.factories import RenewalFactory, SimLineFactory


@pytest.fixture
def running_line(plan):
    now = timezone.now()
    line = SimLineFactory(plan=plan, expires_at=now + timedelta(days=20))
    RenewalFactory(line=line, period_start=now - timedelta(days=10), period_end=line.expires_at)
    return line


def adjust(client, line, **data):
    form = {
        "what": "data_mb",
        "amount": "500",
        "reason": "abnormal_deduction",
        "comment": "billed twice",
        **data,
    }
    return client.post(reverse("admin:accounts_simline_adjust", args=[line.pk]), form)


def test_support_credits_data_from_the_line_page(client, support_agent, running_line):
    login_staff(client, support_agent)
    page = client.get(reverse("admin:accounts_simline_change", args=[running_line.pk]))
    assert reverse("admin:accounts_simline_adjust", args=[running_line.pk]).encode() in page.content
    assert adjust(client, running_line).status_code == 302
    assert Correction.objects.get().status == "applied"


@pytest.mark.parametrize(
    ("data", "message"),
    [({"amount": "0"}, "other than zero"), ({"amount": "x"}, "whole number"), ({"comment": ""}, "required")],
)
def test_bad_input_is_a_message_and_records_nothing(client, support_agent, running_line, data, message):
    login_staff(client, support_agent)
    response = adjust(client, running_line, **data)
    assert response.status_code == 200 and message in response.content.decode()
    assert Correction.objects.count() == 0


def test_a_large_adjustment_is_decided_by_a_manager_then_can_be_reversed(
    client, support_agent, manager, running_line
):
    login_staff(client, support_agent)
    adjust(client, running_line, what="expiry_days", amount="10")
    correction = Correction.objects.get()
    assert correction.status == "requested"
    decide = reverse("admin:accounts_correction_decide", args=[correction.pk])
    response = client.post(decide, {"decision": "approve", "comment": "ok"})
    assert response.status_code == 200 and "manager" in response.content.decode()  # refused for Support
    login_staff(client, manager)
    assert client.post(decide, {"decision": "approve", "comment": "outage confirmed"}).status_code == 302
    correction.refresh_from_db()
    assert correction.status == "applied"
    reverse_url = reverse("admin:accounts_correction_reverse", args=[correction.pk])
    assert client.post(reverse_url, {"comment": "wrong line"}).status_code == 302
    assert Correction.objects.filter(reverses=correction).exists()


def test_support_swaps_a_lost_sim_from_the_line_page(client, support_agent, running_line):
    from accounts.identifiers import make_iccid

    login_staff(client, support_agent)
    url = reverse("admin:accounts_simline_swap", args=[running_line.pk])
    bad = client.post(url, {"new_iccid": "123", "reason": "lost_or_broken_sim", "comment": "lost"})
    assert bad.status_code == 200 and bad.context["form"].non_field_errors()
    new_iccid = make_iccid(9_000_002)
    done = client.post(url, {"new_iccid": new_iccid, "reason": "lost_or_broken_sim", "comment": "lost"})
    assert done.status_code == 302
    running_line.refresh_from_db()
    assert running_line.iccid == new_iccid


def test_support_moves_a_line_to_another_customer(client, support_agent, running_line):
    from tests.factories import CustomerFactory

    buyer = CustomerFactory()
    login_staff(client, support_agent)
    url = reverse("admin:accounts_simline_move", args=[running_line.pk])
    assert (
        client.post(url, {"to_customer": "999999", "reason": "customer_request", "comment": "x"}).status_code
        == 200
    )
    done = client.post(url, {"to_customer": buyer.pk, "reason": "customer_request", "comment": "sold"})
    assert done.status_code == 302
    running_line.refresh_from_db()
    assert running_line.customer == buyer
