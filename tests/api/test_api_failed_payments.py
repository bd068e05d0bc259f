"""Failed-payment follow-up through the API: the cases of the caller's customers, retry now
(through the local Stripe peer), the link to pay another way, notes, the outcome of a contact
and write-off; Billing and Managers act, Support reads, partners act on their own cases."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import AuditEntry
from notifications.models import NotificationLog
from payments.autorenew import auto_renew_run
from payments.models import FailedPaymentCase, Payment
from plans.models import Renewal
from tests.api.conftest import ApiClient, assert_problem, issue
from tests.factories import FailedPaymentCaseFactory, SimLineFactory
from tests.payments.test_auto_renew import ACTOR, saved_card, with_card

pytestmark = pytest.mark.django_db

BASE = "/api/v1/failed-payments/"


@pytest.fixture
def case_a(line_a):
    return FailedPaymentCaseFactory(renewal__line=line_a, renewal__plan=line_a.plan)


@pytest.fixture
def case_b(line_b):
    return FailedPaymentCaseFactory(renewal__line=line_b, renewal__plan=line_b.plan)


def audit(case, action):
    return AuditEntry.objects.filter(object_id=str(case.pk), action=action)


# --- Reading ---------------------------------------------------------------------------------


def test_a_partner_lists_only_its_own_cases_with_what_it_needs_to_follow_up(api_a, case_a, case_b):
    response = api_a.get(BASE)
    assert response.status_code == 200
    [row] = response.json()["results"]
    assert row["id"] == case_a.pk and row["status"] == "open"
    assert row["line"] == case_a.renewal.line_id and row["customer"] == case_a.renewal.line.customer_id
    assert row["amount"] == {"amount": "19.90", "currency": "EUR"}
    assert row["last_decline_code"] == "insufficient_funds"
    assert "/payments/renew/" in row["pay_url"]


def test_the_list_filters_by_status_customer_line_retry_time_and_opening(api_manager, case_a, case_b):
    soon = timezone.now() + timedelta(days=1)
    FailedPaymentCase.objects.filter(pk=case_a.pk).update(next_retry_at=soon)
    FailedPaymentCase.objects.filter(pk=case_b.pk).update(status="written_off", closed_at=timezone.now())

    def ids(**params):
        response = api_manager.get(BASE, params)
        assert response.status_code == 200, response.content
        return [row["id"] for row in response.json()["results"]]

    assert ids() == [case_b.pk, case_a.pk]
    assert ids(status="open") == [case_a.pk]
    assert ids(customer=case_b.renewal.line.customer_id) == [case_b.pk]
    assert ids(line=case_a.renewal.line_id) == [case_a.pk]
    assert ids(next_retry_before=(soon + timedelta(hours=1)).isoformat()) == [case_a.pk]
    assert ids(next_retry_after=(soon + timedelta(hours=1)).isoformat()) == []
    assert ids(opened_since=(timezone.now() + timedelta(hours=1)).isoformat()) == []
    assert_problem(api_manager.get(BASE, {"status": "lost"}), 400, "invalid")


def test_the_list_costs_the_same_for_one_case_or_twenty(api_manager, case_a, django_assert_max_num_queries):
    with django_assert_max_num_queries(8) as one:
        api_manager.get(BASE)
    FailedPaymentCaseFactory.create_batch(19)
    with django_assert_max_num_queries(len(one.captured_queries)):
        assert len(api_manager.get(BASE).json()["results"]) == 20


def test_a_case_is_retrieved_by_its_partner_and_every_staff_role(
    api_a, api_support, api_billing, api_manager, case_a
):
    for client in (api_a, api_support, api_billing, api_manager):
        response = client.get(f"{BASE}{case_a.pk}/")
        assert response.status_code == 200 and response.json()["id"] == case_a.pk


# --- Tenancy, scopes, roles ------------------------------------------------------------------

ACTIONS = [
    ("retry", {}),
    ("payment-link", {}),
    ("notes", {"text": "Called twice."}),
    ("outcome", {"outcome": "no_answer"}),
    ("write-off", {"reason": "Left France."}),
]


@pytest.mark.parametrize(("action", "body"), [("", None), *ACTIONS])
def test_another_partners_case_answers_404_and_is_untouched(api_b, case_a, action, body):
    path = f"{BASE}{case_a.pk}/{action + '/' if action else ''}"
    response = api_b.get(path) if body is None else api_b.post(path, body)
    assert_problem(response, 404, "not_found")
    case = FailedPaymentCase.objects.get(pk=case_a.pk)
    assert (case.status, case.notes, case.attempts) == ("open", "", 1)
    assert not AuditEntry.objects.filter(action__startswith="dunning.").exists()
    assert not NotificationLog.objects.exists()


@pytest.mark.parametrize(("action", "body"), ACTIONS)
def test_a_read_only_key_cannot_act_on_a_case(api_a_read_only, case_a, action, body):
    assert_problem(api_a_read_only.post(f"{BASE}{case_a.pk}/{action}/", body), 403, "scope_missing")
    assert FailedPaymentCase.objects.get(pk=case_a.pk).notes == ""


@pytest.mark.parametrize(("action", "body"), ACTIONS)
def test_support_reads_cases_but_cannot_act_on_them(api_support, case_a, action, body):
    assert_problem(api_support.post(f"{BASE}{case_a.pk}/{action}/", body), 403, "role_forbidden")
    assert FailedPaymentCase.objects.get(pk=case_a.pk).status == "open"
    assert not AuditEntry.objects.filter(action__startswith="dunning.").exists()


@pytest.mark.parametrize("role", ["billing", "manager"])
def test_billing_and_managers_add_notes_signed_with_their_name(request, case_a, role):
    user = request.getfixturevalue({"billing": "billing_agent", "manager": "manager"}[role])
    client = ApiClient(issue(user=user))
    response = client.post(f"{BASE}{case_a.pk}/notes/", {"text": "Called at 11:00."})
    assert response.status_code == 201, response.content
    assert response.json()["notes"].endswith(f", {user.username}: Called at 11:00.")
    entry = audit(case_a, "dunning.note_added").get()
    assert (entry.actor_user, entry.channel, entry.reason) == (user, "api", "Called at 11:00.")


# --- Each operation ----------------------------------------------------------------------------


def test_notes_are_added_never_rewritten_and_a_replay_adds_nothing(api_a, case_a, partner_a):
    path = f"{BASE}{case_a.pk}/notes/"
    first = api_a.post(path, {"text": "Called, no answer."}, key="note-1")
    replay = api_a.post(path, {"text": "Called, no answer."}, key="note-1")
    api_a.post(path, {"text": "Sent a WhatsApp."})
    assert first.status_code == 201 and replay["Idempotent-Replayed"] == "true"
    assert replay.json() == first.json()
    lines = FailedPaymentCase.objects.get(pk=case_a.pk).notes.splitlines()
    assert len(lines) == 2
    assert partner_a.code in lines[0] and lines[0].endswith(": Called, no answer.")
    assert lines[1].endswith(": Sent a WhatsApp.")
    assert audit(case_a, "dunning.note_added").filter(actor_partner=partner_a).count() == 2


def test_an_empty_note_is_a_field_error_and_changes_nothing(api_billing, case_a):
    body = assert_problem(api_billing.post(f"{BASE}{case_a.pk}/notes/", {"text": "  "}), 400, "invalid")
    assert body["errors"][0]["field"] == "text"
    assert FailedPaymentCase.objects.get(pk=case_a.pk).notes == ""


def test_the_payment_link_is_sent_by_email_and_sms_once_a_day(api_billing, case_a, billing_agent):
    customer = case_a.renewal.line.customer
    customer.phone = "+33612345678"
    customer.save()
    path = f"{BASE}{case_a.pk}/payment-link/"
    response = api_billing.post(path)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["channels"] == ["email", "sms"] and "/payments/renew/" in body["pay_url"]
    sent = NotificationLog.objects.filter(renewal=case_a.renewal, kind="payment_failed")
    assert sorted(sent.values_list("channel", "recipient")) == [
        ("email", customer.email),
        ("sms", "+33612345678"),
    ]
    assert all(body["pay_url"].split("/renew/")[1].split(":")[0] in log.body for log in sent)
    assert FailedPaymentCase.objects.get(pk=case_a.pk).customer_notified_at is not None
    assert audit(case_a, "dunning.link_sent").get().actor_user == billing_agent
    assert_problem(api_billing.post(path), 409, "link_already_sent")
    assert sent.count() == 2


def test_a_customer_without_email_or_phone_gets_no_link_but_a_clear_422(api_billing, case_a):
    customer = case_a.renewal.line.customer
    customer.email, customer.phone = "", ""
    customer.save()
    assert_problem(api_billing.post(f"{BASE}{case_a.pk}/payment-link/"), 422, "no_contact")
    assert not NotificationLog.objects.exists()


def test_recording_an_outcome_notes_it_and_keeps_the_case_open(api_billing, case_a):
    response = api_billing.post(
        f"{BASE}{case_a.pk}/outcome/", {"outcome": "will_pay", "note": "Pays tonight with Alipay."}
    )
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "open"
    assert response.json()["notes"].endswith("[will_pay] Pays tonight with Alipay.")
    assert audit(case_a, "dunning.contact_recorded").get().changes["outcome"] == "will_pay"


def test_a_customer_declining_the_renewal_closes_the_case_and_cancels_the_renewal(api_a, case_a):
    response = api_a.post(f"{BASE}{case_a.pk}/outcome/", {"outcome": "renewal_declined"})
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "cancelled" and response.json()["pay_url"] is None
    assert Renewal.objects.get(pk=case_a.renewal_id).status == "cancelled"
    assert audit(case_a, "dunning.cancelled").count() == 1


def test_an_unknown_outcome_is_a_field_error(api_billing, case_a):
    body = assert_problem(api_billing.post(f"{BASE}{case_a.pk}/outcome/", {"outcome": "maybe"}), 400)
    assert body["errors"][0]["field"] == "outcome"


def test_writing_off_closes_the_case_with_the_caller_and_reason_in_the_audit(
    api_billing, case_a, billing_agent
):
    response = api_billing.post(f"{BASE}{case_a.pk}/write-off/", {"reason": "Customer left France."}, key="w")
    assert response.status_code == 200, response.content
    case = FailedPaymentCase.objects.get(pk=case_a.pk)
    assert case.status == "written_off" and case.closed_at is not None
    entry = audit(case_a, "dunning.written_off").get()
    assert (entry.actor_user, entry.channel, entry.reason) == (billing_agent, "api", "Customer left France.")
    replay = api_billing.post(f"{BASE}{case_a.pk}/write-off/", {"reason": "Customer left France."}, key="w")
    assert replay["Idempotent-Replayed"] == "true" and replay.json() == response.json()
    assert audit(case_a, "dunning.written_off").count() == 1


@pytest.mark.parametrize(("action", "body"), [a for a in ACTIONS if a[0] != "notes"])
def test_a_closed_case_answers_409_case_closed_and_changes_nothing(api_billing, case_a, action, body):
    FailedPaymentCase.objects.filter(pk=case_a.pk).update(status="recovered", closed_at=timezone.now())
    assert_problem(api_billing.post(f"{BASE}{case_a.pk}/{action}/", body), 409, "case_closed")
    assert FailedPaymentCase.objects.get(pk=case_a.pk).status == "recovered"
    assert not AuditEntry.objects.filter(action__startswith="dunning.").exists()
    assert not Payment.objects.exclude(pk=case_a.payment_id).exists()


def test_a_write_off_needs_a_reason(api_billing, case_a):
    assert_problem(api_billing.post(f"{BASE}{case_a.pk}/write-off/", {}), 400, "invalid")
    assert FailedPaymentCase.objects.get(pk=case_a.pk).status == "open"


def test_retry_without_a_saved_card_is_refused_with_what_to_do(api_billing, case_a):
    body = assert_problem(api_billing.post(f"{BASE}{case_a.pk}/retry/"), 422, "no_saved_card")
    assert "link" in body["detail"]
    assert Payment.objects.filter(renewal=case_a.renewal).count() == 1


@pytest.fixture
def declined_case(partner_a, plan, stripe_peer):
    """A partner A customer's auto-renewal declined by the bank through the Stripe peer."""
    from payments.autorenew import line_auto_renew_set

    line = SimLineFactory(
        customer__partner=partner_a,
        customer__currency="EUR",
        plan=plan,
        expires_at=timezone.now() + timedelta(hours=20),
    )
    line_auto_renew_set(
        line=line,
        enabled=True,
        plan=plan,
        method=saved_card(stripe_peer, line.customer, "insufficient_funds"),
        actor=ACTOR,
        reason="set by a test",
    )
    auto_renew_run()
    return FailedPaymentCase.objects.get(renewal__line=line)


def test_retry_now_charges_the_new_card_through_stripe_and_recovers_the_case(
    api_a, declined_case, partner_a, stripe_peer
):
    with_card(declined_case.renewal.line, stripe_peer)  # the customer saved a working card
    response = api_a.post(f"{BASE}{declined_case.pk}/retry/", key="retry-1")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["case"]["status"] == "recovered" and body["payment"]["status"] == "succeeded"
    payment = Payment.objects.get(pk=body["payment"]["id"])
    assert (
        payment.stripe_payment_intent_id.startswith("pi_")
        and payment.amount == declined_case.renewal.price_amount
    )
    assert Renewal.objects.get(pk=declined_case.renewal_id).status in Renewal.GRANTED_STATUSES
    started = AuditEntry.objects.get(action="payment.started", object_id=str(payment.pk))
    assert started.actor_partner == partner_a
    replay = api_a.post(f"{BASE}{declined_case.pk}/retry/", key="retry-1")
    assert replay["Idempotent-Replayed"] == "true"
    assert Payment.objects.filter(renewal=declined_case.renewal, status="succeeded").count() == 1


def test_a_retry_declined_again_counts_an_attempt_and_stays_open(api_manager, declined_case):
    response = api_manager.post(f"{BASE}{declined_case.pk}/retry/")
    assert response.status_code == 200, response.content
    assert response.json()["payment"]["status"] == "failed"
    assert response.json()["case"]["status"] == "open" and response.json()["case"]["attempts"] == 2


# --- Races (PostgreSQL) ------------------------------------------------------------------------


@pytest.mark.usefixtures("on_postgres")
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_notes_added_at_the_same_moment_are_all_kept(partner_a, plan):
    from tests.concurrency import run_concurrently

    line = SimLineFactory(customer__partner=partner_a, plan=plan)
    case = FailedPaymentCaseFactory(renewal__line=line, renewal__plan=plan)
    client = ApiClient(issue(partner=partner_a))
    answers = run_concurrently(
        lambda i: client.post(f"{BASE}{case.pk}/notes/", {"text": f"note {i}"}).status_code, 6
    )
    assert answers == [201] * 6
    notes = FailedPaymentCase.objects.get(pk=case.pk).notes.splitlines()
    assert sorted(note.rsplit(": ", 1)[1] for note in notes) == [f"note {i}" for i in range(6)]


@pytest.mark.usefixtures("on_postgres")
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_control_without_the_lock_notes_added_at_the_same_moment_are_lost(partner_a, plan):
    """Shows the race the case's row lock prevents: reading the notes, then writing them back
    with one more line, keeps only the last writer's note."""
    import threading

    from payments.followup import _append_note
    from reseller.actors import Actor
    from tests.concurrency import run_concurrently

    line = SimLineFactory(customer__partner=partner_a, plan=plan)
    case = FailedPaymentCaseFactory(renewal__line=line, renewal__plan=plan)
    all_have_read = threading.Barrier(6)

    def add_naively(index):
        fresh = FailedPaymentCase.objects.get(pk=case.pk)
        # Every writer reads before any writes: the interleaving, forced so that the control
        # does not depend on thread timing.
        all_have_read.wait(timeout=30)
        _append_note(fresh, f"note {index}", Actor.for_partner(partner_a), None)

    run_concurrently(add_naively, 6)
    notes = FailedPaymentCase.objects.get(pk=case.pk).notes.splitlines()
    assert len(notes) == 1  # five of the six notes lost


@pytest.mark.usefixtures("on_postgres")
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_write_off_and_a_declined_renewal_at_once_close_the_case_once(billing_agent, manager, plan):
    from tests.concurrency import run_concurrently

    case = FailedPaymentCaseFactory(renewal__plan=plan)
    billing, boss = ApiClient(issue(user=billing_agent)), ApiClient(issue(user=manager))

    def contender(i):
        if i == 0:
            return billing.post(f"{BASE}{case.pk}/write-off/", {"reason": "Left France."}).status_code
        return boss.post(f"{BASE}{case.pk}/outcome/", {"outcome": "renewal_declined"}).status_code

    assert sorted(run_concurrently(contender, 2)) == [200, 409]
    closings = AuditEntry.objects.filter(
        object_id=str(case.pk), action__in=["dunning.written_off", "dunning.cancelled"]
    )
    assert closings.count() == 1
    status = FailedPaymentCase.objects.get(pk=case.pk).status
    assert (
        status
        == {"dunning.written_off": "written_off", "dunning.cancelled": "cancelled"}[closings.get().action]
    )
