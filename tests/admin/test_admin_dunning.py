"""Billing's follow-up queue of failed payments: what they need to contact the customer, the
actions that settle a case, the recovery figures; its cost does not grow with its length."""

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from payments.models import FailedPaymentCase
from tests.auth.second_factor import login_staff
from tests.factories import FailedPaymentCaseFactory

QUEUE = "admin:payments_failedpaymentcase_changelist"


def test_billing_sees_open_cases_with_contact_amount_and_reason(client, billing_agent, db):
    case = FailedPaymentCaseFactory()
    customer = case.payment.customer
    customer.phone = "+33612345678"
    customer.save()
    login_staff(client, billing_agent)
    page = client.get(reverse(QUEUE), {"status__exact": "open"}).content.decode()
    assert case.payment.customer.email in page and "+33612345678" in page
    assert "19.90" in page and "insufficient_funds" in page


def test_billing_sees_the_recovery_figures(client, billing_agent, db):
    FailedPaymentCaseFactory(status="recovered", closed_at=timezone.now())
    FailedPaymentCaseFactory()
    login_staff(client, billing_agent)
    page = client.get(reverse("admin:payments_failedpaymentcase_figures")).content.decode()
    assert "dunning-figures" in page and "50 %" in page and "19.90\u00a0EUR" in page


def test_the_queue_costs_the_same_for_one_case_or_twenty(client, billing_agent, db):
    login_staff(client, billing_agent)
    FailedPaymentCaseFactory()
    with CaptureQueriesContext(connection) as one:
        client.get(reverse(QUEUE))
    FailedPaymentCaseFactory.create_batch(19)
    with CaptureQueriesContext(connection) as twenty:
        client.get(reverse(QUEUE))
    assert len(twenty) == len(one)


def test_writing_off_needs_a_note_and_closes_the_case(client, billing_agent, db):
    case = FailedPaymentCaseFactory()
    login_staff(client, billing_agent)
    client.post(reverse(QUEUE), {"action": "write_off", "_selected_action": [case.pk]})
    case.refresh_from_db()
    assert case.status == "open"  # no note: refused with a message
    FailedPaymentCase.objects.filter(pk=case.pk).update(notes="Customer left France; agreed by phone.")
    client.post(reverse(QUEUE), {"action": "write_off", "_selected_action": [case.pk]})
    case.refresh_from_db()
    assert case.status == "written_off" and case.closed_at is not None


def test_support_can_see_the_queue_but_not_act(client, support_agent, db):
    case = FailedPaymentCaseFactory()
    login_staff(client, support_agent)
    assert client.get(reverse(QUEUE)).status_code == 200
    client.post(reverse(QUEUE), {"action": "write_off", "_selected_action": [case.pk]})
    case.refresh_from_db()
    assert case.status == "open"


def test_billing_adds_a_note_and_an_outcome_from_the_case_page(client, billing_agent, db):
    from accounts.models import AuditEntry

    case = FailedPaymentCaseFactory()
    login_staff(client, billing_agent)
    page = reverse("admin:payments_failedpaymentcase_change", args=[case.pk])
    assert client.get(page).status_code == 200
    client.post(page, {"add_note": "Called at 11:00.", "contact_outcome": "no_answer", "assigned_to": ""})
    case.refresh_from_db()
    assert case.status == "open"
    assert case.notes.endswith(f", {billing_agent.username}: [no_answer] Called at 11:00.")
    entry = AuditEntry.objects.get(action="dunning.contact_recorded", object_id=str(case.pk))
    assert (entry.actor_user, entry.reason) == (billing_agent, "Called at 11:00.")


def test_billing_sends_the_link_to_pay_from_the_queue(client, billing_agent, db):
    from notifications.models import NotificationLog

    case = FailedPaymentCaseFactory()
    login_staff(client, billing_agent)
    client.post(reverse(QUEUE), {"action": "send_payment_link", "_selected_action": [case.pk]})
    assert list(
        NotificationLog.objects.filter(renewal=case.renewal, kind="payment_failed")
        .order_by("channel")
        .values_list("channel", flat=True)
    ) == ["email", "sms"]
    case.refresh_from_db()
    assert case.customer_notified_at is not None


def test_support_opens_a_case_page_without_the_fields_to_act(client, support_agent, db):
    case = FailedPaymentCaseFactory()
    login_staff(client, support_agent)
    page = client.get(reverse("admin:payments_failedpaymentcase_change", args=[case.pk]))
    assert page.status_code == 200
    assert 'name="add_note"' not in page.content.decode()
