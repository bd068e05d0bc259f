"""Managers register lines in the admin (SIM lines → Add) through the line service: a physical
SIM by its ICCID, an eSIM ordered from the network; with a reason kept in the audit entry.
Bad numbers are form errors that write nothing; a double submit registers one line."""

import pytest
from django.urls import reverse

from accounts.identifiers import make_iccid
from accounts.models import AuditEntry, SimLine
from carrier.models import SandboxEsimProfile
from tests.auth.second_factor import login_staff

pytestmark = pytest.mark.django_db

ADD = reverse("admin:accounts_simline_add")
ICCID = make_iccid(9901)


def form(customer, **overrides):
    data = {
        "customer": customer.pk,
        "kind": "physical",
        "iccid": ICCID,
        "msisdn": "",
        "reason": "customer_request",
        "comment": "SIM sold at the Lyon counter",
        "idempotency_key": "form-1",
    }
    return {**data, **overrides}


def test_a_manager_registers_a_physical_sim_with_a_reason(client, manager, alice):
    login_staff(client, manager)
    assert client.get(ADD).status_code == 200
    response = client.post(ADD, form(alice))
    line = SimLine.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "admin:accounts_simline_change", args=[line.pk]
    )
    assert (line.iccid, line.kind, line.status, line.customer) == (ICCID, "physical", "inactive", alice)
    entry = AuditEntry.objects.get(action="line.registered")
    assert (entry.actor_user, entry.channel) == (manager, "admin")
    assert entry.reason == "customer_request: SIM sold at the Lyon counter"


def test_a_manager_issues_an_esim_and_a_double_submit_orders_one(client, manager, alice):
    login_staff(client, manager)
    data = form(alice, kind="esim", iccid="", idempotency_key="form-2")
    first = client.post(ADD, data)
    second = client.post(ADD, data)
    line = SimLine.objects.get()
    assert first["Location"] == second["Location"] == reverse("admin:accounts_simline_change", args=[line.pk])
    assert line.kind == "esim" and line.activation_code.startswith("LPA:1$")
    assert SandboxEsimProfile.objects.count() == 1
    assert AuditEntry.objects.filter(action="line.esim_issued").count() == 1


def test_a_wrong_iccid_is_a_form_error_on_the_field_and_nothing_is_written(client, manager, alice):
    login_staff(client, manager)
    response = client.post(ADD, form(alice, iccid=ICCID[:-1] + str((int(ICCID[-1]) + 1) % 10)))
    assert response.status_code == 200
    assert "iccid" in response.context["form"].errors
    assert not SimLine.objects.exists() and not AuditEntry.objects.filter(action="line.registered").exists()


def test_an_iccid_already_registered_to_someone_else_is_a_form_error(client, manager, alice, bob):
    login_staff(client, manager)
    client.post(ADD, form(alice))
    response = client.post(ADD, form(bob, idempotency_key="form-3"))
    assert response.status_code == 200
    assert "iccid" in response.context["form"].errors
    assert SimLine.objects.get().customer == alice


def test_a_comment_is_required(client, manager, alice):
    login_staff(client, manager)
    response = client.post(ADD, form(alice, comment=""))
    assert "comment" in response.context["form"].errors
    assert not SimLine.objects.exists()


@pytest.mark.parametrize("persona", ["support_agent", "billing_agent"])
def test_support_and_billing_cannot_register_lines(client, request, persona, alice):
    login_staff(client, request.getfixturevalue(persona))
    assert client.get(ADD).status_code == 403
    assert client.post(ADD, form(alice)).status_code == 403
    assert not SimLine.objects.exists()
