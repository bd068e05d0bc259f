"""A line's auto-renew fields in the admin go through the auto-renew service: its rules, and
its audit entry with the reason given on the page."""

from django.contrib.messages import get_messages
from django.urls import reverse

from accounts.models import AuditEntry, SimLine
from payments.models import SavedPaymentMethod
from tests.admin.test_admin_forms import line_form
from tests.auth.second_factor import login_staff
from tests.factories import SimLineFactory


def card_of(customer, pm="pm_admin_card") -> SavedPaymentMethod:
    return SavedPaymentMethod.objects.create(
        customer=customer,
        stripe_payment_method_id=pm,
        brand="visa",
        last4="4242",
        exp_month=12,
        exp_year=2034,
    )


def test_turning_auto_renew_on_in_the_admin_is_audited_by_the_service_with_the_reason(
    client, support_agent, plan
):
    line = SimLineFactory(plan=plan)
    card = card_of(line.customer)
    login_staff(client, support_agent)
    response = client.post(
        reverse("admin:accounts_simline_change", args=[line.pk]),
        line_form(line, auto_renew="on", auto_renew_plan=plan.pk, auto_renew_payment_method=card.pk),
    )
    assert response.status_code == 302
    line.refresh_from_db()
    assert (line.auto_renew, line.auto_renew_plan_id, line.auto_renew_payment_method_id) == (
        True,
        plan.pk,
        card.pk,
    )
    entry = AuditEntry.objects.get(action="line.auto_renew_on", object_id=str(line.pk))
    assert (entry.actor_user, entry.reason) == (support_agent, "customer_request: Asked by the customer.")
    assert not AuditEntry.objects.filter(action="simline.changed", object_id=str(line.pk)).exists()


def test_choosing_a_card_while_auto_renew_stays_off_is_refused_with_a_message_and_nothing_is_saved(
    client, support_agent, plan
):
    line = SimLineFactory(plan=plan)
    card = card_of(line.customer)
    login_staff(client, support_agent)
    response = client.post(
        reverse("admin:accounts_simline_change", args=[line.pk]),
        line_form(line, msisdn="+33699999999", auto_renew_payment_method=card.pk),
    )
    assert response.status_code == 302
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "Turn auto-renew on to change its plan or card."
    ]
    stored = SimLine.objects.get(pk=line.pk)
    assert (stored.auto_renew, stored.auto_renew_payment_method_id, stored.msisdn) == (
        False,
        None,
        line.msisdn,
    )
    assert not AuditEntry.objects.filter(object_id=str(line.pk)).exists()
