"""Account corrections through the API: staff and partners correct a customer's details (a
partner's legal-name change becomes a request), request corrections of a line, read the
corrections they may see, and adjust balances and expiries within the role's limits; only
staff decide, never the one who asked. Every effect is a correction row and an audit entry
naming the API caller."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from accounts.identifiers import make_iccid
from accounts.models import AuditEntry, Correction
from accounts.roles import MANAGER
from plans.balances import line_balance
from tests.api.conftest import ApiClient, assert_problem, issue
from tests.concurrency import run_concurrently
from tests.factories import CustomerFactory, RenewalFactory, SimLineFactory, UserFactory

pytestmark = pytest.mark.django_db

FIX_EMAIL = {
    "changes": {"email": "li.wei@example.com", "city": "Lyon"},
    "reason": "typo",
    "comment": "typed wrong",
}
SMALL_CREDIT = {"data_mb": 500, "reason": "abnormal_deduction", "comment": "billed twice on 3 May"}
LARGE_CREDIT = {"data_mb": 5_000, "reason": "network_outage", "comment": "no data for a week in Lyon"}


def audit_of(correction_or_customer, action: str) -> AuditEntry:
    content_type = ContentType.objects.get_for_model(correction_or_customer)
    return AuditEntry.objects.get(
        content_type=content_type, object_id=str(correction_or_customer.pk), action=action
    )


@pytest.fixture
def running_line_a(line_a):
    """Partner A's line in the middle of a 30-day period of 20 GB."""
    now = timezone.now()
    line_a.expires_at = now + timedelta(days=20)
    line_a.save(update_fields=["expires_at"])
    RenewalFactory(
        line=line_a, period_start=now - timedelta(days=10), period_end=line_a.expires_at, data_mb=20_000
    )
    return line_a


@pytest.fixture
def second_manager(db):
    user = UserFactory(username="manager2", is_staff=True)
    user.groups.add(Group.objects.get(name=MANAGER))
    return user


@pytest.fixture
def api_second_manager(second_manager):
    return ApiClient(issue(user=second_manager))


# --- POST /customers/{id}/corrections/ ----------------------------------------------------------


@pytest.mark.parametrize("role", ["support", "manager"])
def test_staff_correct_a_customers_details_with_a_reason_and_the_audit_names_them(
    request, role, customer_a, support_agent, manager
):
    client = request.getfixturevalue(f"api_{role}")
    response = client.post(f"/api/v1/customers/{customer_a.pk}/corrections/", FIX_EMAIL)
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["customer"]["email"], body["customer"]["city"]) == ("li.wei@example.com", "Lyon")
    [correction] = body["corrections"]
    assert (correction["status"], correction["kind"], correction["reason"]) == ("applied", "details", "typo")
    assert correction["after"] == {"email": "li.wei@example.com", "city": "Lyon"}
    customer_a.refresh_from_db()
    assert (customer_a.email, customer_a.city) == ("li.wei@example.com", "Lyon")
    entry = audit_of(customer_a, "customer.corrected")
    user = {"support": support_agent, "manager": manager}[role]
    assert (entry.actor_user, entry.channel, entry.reason) == (user, "api", "typo: typed wrong")


def test_billing_cannot_correct_details(api_billing, customer_a):
    response = api_billing.post(f"/api/v1/customers/{customer_a.pk}/corrections/", FIX_EMAIL)
    assert_problem(response, 403, "role_forbidden")
    customer_a.refresh_from_db()
    assert customer_a.city == ""
    assert not Correction.objects.exists()


def test_staff_correct_the_legal_name_at_once(api_support, customer_a):
    body = {"changes": {"legal_name": "LI Wei"}, "reason": "typo", "comment": "as on the passport"}
    response = api_support.post(f"/api/v1/customers/{customer_a.pk}/corrections/", body)
    assert response.status_code == 201, response.content
    customer_a.refresh_from_db()
    assert customer_a.legal_name == "LI Wei"
    assert Correction.objects.get().status == "applied"


def test_a_partner_corrects_its_customers_contact_at_once_audited_as_the_partner(
    api_a, partner_a, customer_a
):
    response = api_a.post(f"/api/v1/customers/{customer_a.pk}/corrections/", FIX_EMAIL)
    assert response.status_code == 201, response.content
    customer_a.refresh_from_db()
    assert customer_a.email == "li.wei@example.com"
    correction = Correction.objects.get()
    assert (correction.status, correction.channel, correction.requested_by) == ("applied", "api", None)
    entry = audit_of(customer_a, "customer.corrected")
    assert (entry.actor_kind, entry.actor_partner, entry.actor_user) == ("partner", partner_a, None)
    assert entry.actor_label.startswith("agence-a (rsp_")


def test_a_partners_legal_name_change_is_a_request_beside_the_details_it_corrects(api_a, customer_a):
    body = {
        "changes": {"legal_name": "LI Wei", "city": "Lyon"},
        "reason": "customer_request",
        "comment": "passport renewed",
    }
    response = api_a.post(f"/api/v1/customers/{customer_a.pk}/corrections/", body)
    assert response.status_code == 201, response.content
    statuses = {c["field"]: c["status"] for c in response.json()["corrections"]}
    assert statuses == {"city": "applied", "legal_name": "requested"}
    customer_a.refresh_from_db()
    assert (customer_a.city, customer_a.legal_name) == ("Lyon", "")
    request = Correction.objects.get(field="legal_name")
    assert (request.before, request.after) == ({"legal_name": ""}, {"legal_name": "LI Wei"})
    assert audit_of(request, "correction.requested").actor_kind == "partner"


def test_a_second_legal_name_request_while_one_waits_conflicts_and_changes_nothing(api_a, customer_a):
    path = f"/api/v1/customers/{customer_a.pk}/corrections/"
    api_a.post(path, {"changes": {"legal_name": "LI Wei"}, "reason": "typo", "comment": "passport"})
    body = {"changes": {"legal_name": "LI W.", "city": "Lyon"}, "reason": "typo", "comment": "passport"}
    assert_problem(api_a.post(path, body), 409, "pending")
    customer_a.refresh_from_db()
    assert customer_a.city == ""  # the direct part is undone with the refused request
    assert Correction.objects.count() == 1


def test_correcting_another_partners_customer_answers_404_and_changes_nothing(api_b, customer_a):
    assert_problem(api_b.post(f"/api/v1/customers/{customer_a.pk}/corrections/", FIX_EMAIL), 404, "not_found")
    customer_a.refresh_from_db()
    assert customer_a.city == ""
    assert not Correction.objects.exists()


def test_a_read_only_key_cannot_correct(api_a_read_only, customer_a):
    response = api_a_read_only.post(f"/api/v1/customers/{customer_a.pk}/corrections/", FIX_EMAIL)
    assert_problem(response, 403, "scope_missing")
    assert not Correction.objects.exists()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"partner": "agency-b"}, "changes.partner"),
        ({"phone": "0612345678"}, "changes.phone"),
        ({}, "changes"),
    ],
)
def test_bad_details_answer_400_naming_the_field_and_change_nothing(api_support, customer_a, changes, field):
    body = {"changes": changes, "reason": "typo", "comment": "typed wrong"}
    problem = assert_problem(api_support.post(f"/api/v1/customers/{customer_a.pk}/corrections/", body), 400)
    assert field in {error["field"] for error in problem["errors"]}
    assert not Correction.objects.exists()
    assert not AuditEntry.objects.filter(action="customer.corrected").exists()


def test_a_correction_without_a_reason_code_answers_400(api_support, customer_a):
    body = {"changes": {"city": "Lyon"}, "reason": "because", "comment": "typed wrong"}
    problem = assert_problem(api_support.post(f"/api/v1/customers/{customer_a.pk}/corrections/", body), 400)
    assert [error["field"] for error in problem["errors"]] == ["reason"]


def test_details_already_right_answer_200_with_no_correction(api_support, customer_a):
    body = {"changes": {"full_name": customer_a.full_name}, "reason": "typo", "comment": "checked"}
    response = api_support.post(f"/api/v1/customers/{customer_a.pk}/corrections/", body)
    assert response.status_code == 200
    assert response.json()["corrections"] == []
    assert not Correction.objects.exists()


def test_a_retried_correction_is_made_once_and_answered_the_same(api_support, customer_a):
    path = f"/api/v1/customers/{customer_a.pk}/corrections/"
    first = api_support.post(path, FIX_EMAIL, key="fix-1")
    again = api_support.post(path, FIX_EMAIL, key="fix-1")
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    assert Correction.objects.count() == 1


# --- POST /correction-requests/ -----------------------------------------------------------------


def msisdn_request(line, value="+33698765432"):
    return {
        "customer": line.customer_id,
        "line": line.pk,
        "field": "msisdn",
        "value": value,
        "comment": "port-in",
    }


def test_a_partner_requests_a_new_number_for_its_line_which_waits_for_staff(api_a, partner_a, line_a):
    old = line_a.msisdn
    response = api_a.post("/api/v1/correction-requests/", msisdn_request(line_a))
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["status"], body["field"], body["line"]) == ("requested", "msisdn", line_a.pk)
    assert response["Location"] == f"/api/v1/corrections/{body['id']}/"
    line_a.refresh_from_db()
    assert line_a.msisdn == old
    entry = audit_of(Correction.objects.get(), "correction.requested")
    assert (entry.actor_kind, entry.actor_partner) == ("partner", partner_a)


@pytest.mark.parametrize(("role", "allowed"), [("support", True), ("billing", False), ("manager", True)])
def test_staff_roles_that_correct_may_request(request, role, allowed, line_a):
    client = request.getfixturevalue(f"api_{role}")
    response = client.post("/api/v1/correction-requests/", msisdn_request(line_a))
    if allowed:
        assert response.status_code == 201, response.content
        assert Correction.objects.get().requested_by.username == role
    else:
        assert_problem(response, 403, "role_forbidden")
        assert not Correction.objects.exists()


def test_requesting_for_another_partners_customer_answers_404(api_b, line_a):
    assert_problem(
        api_b.post("/api/v1/correction-requests/", msisdn_request(line_a)), 404, "customer_not_found"
    )
    assert not Correction.objects.exists()


def test_requesting_with_a_line_of_another_customer_answers_404(api_a, customer_a, line_b):
    body = {**msisdn_request(line_b), "customer": customer_a.pk}
    assert_problem(api_a.post("/api/v1/correction-requests/", body), 404, "line_not_found")
    assert not Correction.objects.exists()


def test_a_line_change_without_its_line_answers_400(api_a, customer_a):
    body = {"customer": customer_a.pk, "field": "iccid", "value": "8933000000000000000"}
    problem = assert_problem(api_a.post("/api/v1/correction-requests/", body), 400)
    assert [error["field"] for error in problem["errors"]] == ["line"]


def test_a_request_breaking_a_rule_answers_422_with_the_services_code(api_a, line_a):
    body = msisdn_request(line_a, value=line_a.msisdn)
    assert_problem(api_a.post("/api/v1/correction-requests/", body), 422, "unchanged")
    assert not Correction.objects.exists()


def test_a_second_request_for_the_same_change_conflicts(api_a, line_a):
    api_a.post("/api/v1/correction-requests/", msisdn_request(line_a))
    assert_problem(
        api_a.post("/api/v1/correction-requests/", msisdn_request(line_a, "+33611112222")), 409, "pending"
    )
    assert Correction.objects.count() == 1


# --- GET /corrections/ and /corrections/{id}/ ---------------------------------------------------


@pytest.fixture
def corrections_of_a(api_a, api_support, line_a, customer_a):
    requested = api_a.post("/api/v1/correction-requests/", msisdn_request(line_a)).json()
    applied = api_support.post(f"/api/v1/customers/{customer_a.pk}/corrections/", FIX_EMAIL).json()
    return {"requested": requested["id"], "applied": applied["corrections"][0]["id"]}


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [c["id"] for c in response.json()["results"]]


def test_a_partner_lists_its_customers_corrections_and_filters_them(api_a, corrections_of_a, line_b, api_b):
    api_b.post("/api/v1/correction-requests/", msisdn_request(line_b))
    assert ids(api_a.get("/api/v1/corrections/")) == [
        corrections_of_a["applied"],
        corrections_of_a["requested"],
    ]
    assert ids(api_a.get("/api/v1/corrections/", {"status": "requested"})) == [corrections_of_a["requested"]]
    assert ids(api_a.get("/api/v1/corrections/", {"kind": "details", "status": "applied"})) == [
        corrections_of_a["applied"]
    ]
    assert ids(
        api_a.get(
            "/api/v1/corrections/", {"line": Correction.objects.get(pk=corrections_of_a["requested"]).line_id}
        )
    ) == [corrections_of_a["requested"]]
    tomorrow = (timezone.now() + timedelta(days=1)).isoformat()
    assert ids(api_a.get("/api/v1/corrections/", {"created_since": tomorrow})) == []


def test_another_partners_corrections_are_absent_and_answer_404(api_b, corrections_of_a):
    assert ids(api_b.get("/api/v1/corrections/")) == []
    assert ids(api_b.get("/api/v1/corrections/", {"customer": Correction.objects.first().customer_id})) == []
    assert_problem(api_b.get(f"/api/v1/corrections/{corrections_of_a['requested']}/"), 404, "not_found")


@pytest.mark.parametrize("role", ["support", "billing", "manager"])
def test_every_staff_role_reads_every_correction(request, role, corrections_of_a, line_b, api_b):
    api_b.post("/api/v1/correction-requests/", msisdn_request(line_b))
    client = request.getfixturevalue(f"api_{role}")
    assert len(ids(client.get("/api/v1/corrections/"))) == 3
    detail = client.get(f"/api/v1/corrections/{corrections_of_a['requested']}/")
    assert detail.status_code == 200
    assert detail.json()["after"] == {"msisdn": "+33698765432"}


def test_a_key_without_read_cannot_list_corrections(partner_a, corrections_of_a):
    client = ApiClient(issue(partner=partner_a, scopes=("write",)))
    assert_problem(client.get("/api/v1/corrections/"), 403, "scope_missing")


@pytest.mark.parametrize(
    ("params", "field"),
    [({"status": "pending"}, "status"), ({"customer": str(2**64)}, "customer"), ({"line": "0"}, "line")],
)
def test_a_bad_filter_answers_400(api_a, params, field):
    problem = assert_problem(api_a.get("/api/v1/corrections/", params), 400)
    assert [error["field"] for error in problem["errors"]] == [field]


def test_a_corrections_page_costs_a_fixed_number_of_queries(api_a, customer_a, django_assert_max_num_queries):
    for number in range(20):
        Correction.objects.create(
            customer=customer_a,
            kind="details",
            field="city",
            after={"city": str(number)},
            reason="typo",
            channel="api",
        )
    # key, networks, last-use write, corrections
    with django_assert_max_num_queries(5):
        assert len(api_a.get("/api/v1/corrections/").json()["results"]) == 20


# --- POST /corrections/{id}/approve/ and /reject/ -----------------------------------------------


def test_support_approves_a_partners_request_and_the_line_changes(
    api_support, support_agent, corrections_of_a, line_a
):
    path = f"/api/v1/corrections/{corrections_of_a['requested']}/approve/"
    response = api_support.post(path, {"comment": "port-in confirmed by the carrier"})
    assert response.status_code == 200, response.content
    assert (response.json()["status"], response.json()["decision_comment"]) == (
        "applied",
        "port-in confirmed by the carrier",
    )
    line_a.refresh_from_db()
    assert line_a.msisdn == "+33698765432"
    entry = audit_of(Correction.objects.get(pk=corrections_of_a["requested"]), "correction.applied")
    assert (entry.actor_user, entry.channel) == (support_agent, "api")


def test_a_rejection_says_why_and_changes_nothing_else(api_support, corrections_of_a, line_a):
    old = line_a.msisdn
    path = f"/api/v1/corrections/{corrections_of_a['requested']}/reject/"
    assert_problem(api_support.post(path, {"comment": " "}), 422, "comment")
    response = api_support.post(path, {"comment": "the number belongs to someone else"})
    assert response.status_code == 200
    assert response.json()["status"] == "rejected"
    line_a.refresh_from_db()
    assert line_a.msisdn == old
    assert audit_of(Correction.objects.get(pk=corrections_of_a["requested"]), "correction.rejected")


def test_a_decided_correction_cannot_be_decided_again(api_support, api_manager, corrections_of_a, line_a):
    pk = corrections_of_a["requested"]
    api_support.post(f"/api/v1/corrections/{pk}/approve/", {"comment": "confirmed"})
    assert_problem(api_manager.post(f"/api/v1/corrections/{pk}/reject/", {"comment": "no"}), 409, "decided")
    assert Correction.objects.get(pk=pk).status == "applied"


@pytest.mark.parametrize("decision", ["approve", "reject"])
def test_partners_never_decide_even_their_own_customers_corrections(api_a, corrections_of_a, decision):
    pk = corrections_of_a["requested"]
    assert_problem(api_a.post(f"/api/v1/corrections/{pk}/{decision}/", {"comment": "ok"}), 403, "staff_only")
    assert Correction.objects.get(pk=pk).status == "requested"


def test_billing_cannot_decide(api_billing, corrections_of_a):
    pk = corrections_of_a["requested"]
    assert_problem(
        api_billing.post(f"/api/v1/corrections/{pk}/approve/", {"comment": "ok"}), 403, "role_forbidden"
    )
    assert Correction.objects.get(pk=pk).status == "requested"


def test_nobody_decides_their_own_request(api_support, line_a):
    pk = api_support.post("/api/v1/correction-requests/", msisdn_request(line_a)).json()["id"]
    assert_problem(
        api_support.post(f"/api/v1/corrections/{pk}/approve/", {"comment": "ok"}), 403, "four_eyes"
    )
    assert Correction.objects.get(pk=pk).status == "requested"


def test_deciding_an_unknown_correction_answers_404(api_manager):
    assert_problem(
        api_manager.post("/api/v1/corrections/999999/approve/", {"comment": "ok"}), 404, "not_found"
    )


# --- POST /lines/{id}/adjustments/ ---------------------------------------------------------------


def test_support_credits_a_little_data_at_once_and_the_balance_counts_it(
    api_support, support_agent, running_line_a
):
    before = line_balance(running_line_a).data_allowance_mb
    response = api_support.post(f"/api/v1/lines/{running_line_a.pk}/adjustments/", SMALL_CREDIT)
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["kind"], body["status"], body["data_mb"]) == ("balance", "applied", 500)
    assert line_balance(running_line_a).data_allowance_mb == before + 500
    entry = audit_of(Correction.objects.get(), "correction.applied")
    assert (entry.actor_user, entry.channel) == (support_agent, "api")


def test_an_expiry_extension_moves_the_lines_expiry(api_support, running_line_a):
    expiry = running_line_a.expires_at
    body = {"expiry_days": 2, "reason": "network_outage", "comment": "two days without signal"}
    response = api_support.post(f"/api/v1/lines/{running_line_a.pk}/adjustments/", body)
    assert response.status_code == 201, response.content
    assert (response.json()["expiry_days"], response.json()["status"]) == (2, "applied")
    running_line_a.refresh_from_db()
    assert running_line_a.expires_at == expiry + timedelta(days=2)


def test_a_large_credit_waits_for_a_manager_and_counts_once_approved(
    api_support, api_manager, running_line_a
):
    before = line_balance(running_line_a).data_allowance_mb
    response = api_support.post(f"/api/v1/lines/{running_line_a.pk}/adjustments/", LARGE_CREDIT)
    assert (response.status_code, response.json()["status"]) == (201, "requested")
    assert line_balance(running_line_a).data_allowance_mb == before
    pk = response.json()["id"]
    assert_problem(
        api_support.post(f"/api/v1/corrections/{pk}/approve/", {"comment": "ok"}), 403, "role_forbidden"
    )
    approved = api_manager.post(f"/api/v1/corrections/{pk}/approve/", {"comment": "checked the CDRs"})
    assert (approved.status_code, approved.json()["status"]) == (200, "applied")
    assert line_balance(running_line_a).data_allowance_mb == before + 5_000


def test_a_manager_cannot_approve_their_own_large_adjustment_another_can(
    api_manager, api_second_manager, second_manager, running_line_a
):
    before = line_balance(running_line_a).data_allowance_mb
    pk = api_manager.post(f"/api/v1/lines/{running_line_a.pk}/adjustments/", LARGE_CREDIT).json()["id"]
    assert_problem(
        api_manager.post(f"/api/v1/corrections/{pk}/approve/", {"comment": "ok"}), 403, "four_eyes"
    )
    assert line_balance(running_line_a).data_allowance_mb == before
    assert api_second_manager.post(f"/api/v1/corrections/{pk}/approve/", {"comment": "ok"}).status_code == 200
    assert Correction.objects.get(pk=pk).decided_by == second_manager
    assert line_balance(running_line_a).data_allowance_mb == before + 5_000


def test_a_partners_adjustment_always_waits_for_staff(api_a, partner_a, api_manager, running_line_a):
    before = line_balance(running_line_a).data_allowance_mb
    response = api_a.post(f"/api/v1/lines/{running_line_a.pk}/adjustments/", SMALL_CREDIT)
    assert (response.status_code, response.json()["status"]) == (201, "requested")
    assert line_balance(running_line_a).data_allowance_mb == before
    entry = audit_of(Correction.objects.get(), "correction.requested")
    assert (entry.actor_kind, entry.actor_partner) == ("partner", partner_a)
    pk = response.json()["id"]
    assert api_manager.post(f"/api/v1/corrections/{pk}/approve/", {"comment": "ok"}).status_code == 200
    assert line_balance(running_line_a).data_allowance_mb == before + 500


def test_adjusting_another_partners_line_answers_404(api_b, running_line_a):
    assert_problem(
        api_b.post(f"/api/v1/lines/{running_line_a.pk}/adjustments/", SMALL_CREDIT), 404, "not_found"
    )
    assert not Correction.objects.exists()


@pytest.mark.parametrize(
    ("client", "code"), [("api_a_read_only", "scope_missing"), ("api_billing", "role_forbidden")]
)
def test_read_only_keys_and_billing_cannot_adjust(request, client, code, running_line_a):
    response = request.getfixturevalue(client).post(
        f"/api/v1/lines/{running_line_a.pk}/adjustments/", SMALL_CREDIT
    )
    assert_problem(response, 403, code)
    assert not Correction.objects.exists()


def test_a_balance_and_an_expiry_at_once_break_a_rule(api_support, running_line_a):
    body = {**SMALL_CREDIT, "expiry_days": 1}
    assert_problem(
        api_support.post(f"/api/v1/lines/{running_line_a.pk}/adjustments/", body), 422, "adjustment"
    )
    assert not Correction.objects.exists()


def test_a_retried_adjustment_credits_once(api_support, running_line_a):
    before = line_balance(running_line_a).data_allowance_mb
    path = f"/api/v1/lines/{running_line_a.pk}/adjustments/"
    first = api_support.post(path, SMALL_CREDIT, key="credit-1")
    assert api_support.post(path, SMALL_CREDIT, key="credit-1").json() == first.json()
    assert Correction.objects.count() == 1
    assert line_balance(running_line_a).data_allowance_mb == before + 500


# --- POST /corrections/{id}/reverse/ ---------------------------------------------------------------


def test_staff_reverse_an_applied_adjustment_with_a_compensating_one(api_support, api_a, running_line_a):
    before = line_balance(running_line_a).data_allowance_mb
    pk = api_support.post(f"/api/v1/lines/{running_line_a.pk}/adjustments/", SMALL_CREDIT).json()["id"]
    assert_problem(
        api_a.post(f"/api/v1/corrections/{pk}/reverse/", {"comment": "wrong line"}), 403, "staff_only"
    )
    response = api_support.post(f"/api/v1/corrections/{pk}/reverse/", {"comment": "wrong line"})
    assert response.status_code == 201, response.content
    assert (response.json()["data_mb"], response.json()["reverses"], response.json()["status"]) == (
        -500,
        pk,
        "applied",
    )
    assert line_balance(running_line_a).data_allowance_mb == before
    assert_problem(
        api_support.post(f"/api/v1/corrections/{pk}/reverse/", {"comment": "again"}), 422, "reversed"
    )


def test_a_customer_without_a_partner_is_reached_by_staff_only(api_a, api_support):
    own = CustomerFactory(partner=None)
    line = SimLineFactory(customer=own)
    assert_problem(api_a.post(f"/api/v1/lines/{line.pk}/adjustments/", SMALL_CREDIT), 404, "not_found")
    assert api_support.post(f"/api/v1/customers/{own.pk}/corrections/", FIX_EMAIL).status_code == 201


# --- POST /lines/{id}/sim-swaps/ and /lines/{id}/moves/ ------------------------------------------


def swap_to(iccid: str) -> dict:
    return {"new_iccid": iccid, "reason": "lost_or_broken_sim", "comment": "card broken"}


def test_support_swaps_a_lost_sim_and_the_line_keeps_its_plan(api_support, support_agent, line_a):
    new_iccid = make_iccid(9_000_001)
    response = api_support.post(f"/api/v1/lines/{line_a.pk}/sim-swaps/", swap_to(new_iccid))
    assert response.status_code == 201, response.content
    assert (response.json()["kind"], response.json()["after"]["iccid"]) == ("sim_swap", new_iccid)
    plan = line_a.plan_id
    line_a.refresh_from_db()
    assert (line_a.iccid, line_a.plan_id) == (new_iccid, plan)
    entry = audit_of(Correction.objects.get(), "correction.sim_swap")
    assert (entry.actor_user, entry.channel) == (support_agent, "api")


def test_a_sim_swap_to_another_lines_iccid_answers_422_and_changes_nothing(api_support, line_a, line_b):
    old = line_a.iccid
    assert_problem(
        api_support.post(f"/api/v1/lines/{line_a.pk}/sim-swaps/", swap_to(line_b.iccid)), 422, "iccid_taken"
    )
    line_a.refresh_from_db()
    assert line_a.iccid == old
    assert not Correction.objects.exists()


def test_a_manager_moves_a_line_to_another_customer_and_auto_renew_stops(
    api_manager, manager, line_a, customer_b
):
    line_a.auto_renew, line_a.auto_renew_plan = True, line_a.plan
    line_a.save(update_fields=["auto_renew", "auto_renew_plan"])
    body = {"to_customer": customer_b.pk, "reason": "customer_request", "comment": "SIM sold on"}
    response = api_manager.post(f"/api/v1/lines/{line_a.pk}/moves/", body)
    assert response.status_code == 201, response.content
    line_a.refresh_from_db()
    assert (line_a.customer, line_a.auto_renew) == (customer_b, False)
    entry = audit_of(Correction.objects.get(), "correction.owner_move")
    assert (entry.actor_user, entry.channel) == (manager, "api")


def test_moving_a_line_to_an_unknown_customer_answers_404(api_manager, line_a, customer_a):
    body = {"to_customer": 999_999, "reason": "customer_request", "comment": "SIM sold on"}
    assert_problem(api_manager.post(f"/api/v1/lines/{line_a.pk}/moves/", body), 404, "customer_not_found")
    line_a.refresh_from_db()
    assert line_a.customer == customer_a


@pytest.mark.parametrize(
    ("client", "code"),
    [("api_a", "staff_only"), ("api_a_read_only", "scope_missing"), ("api_billing", "role_forbidden")],
)
@pytest.mark.parametrize("action", ["sim-swaps", "moves"])
def test_only_support_and_managers_swap_sims_and_move_lines(
    request, client, code, action, line_a, customer_a
):
    body = (
        swap_to(make_iccid(9_000_002))
        if action == "sim-swaps"
        else {
            "to_customer": CustomerFactory(partner=customer_a.partner).pk,
            "reason": "customer_request",
            "comment": "SIM sold on",
        }
    )
    response = request.getfixturevalue(client).post(f"/api/v1/lines/{line_a.pk}/{action}/", body)
    assert_problem(response, 403, code)
    line_a.refresh_from_db()
    assert line_a.customer == customer_a
    assert not Correction.objects.exists()


def test_another_partners_staff_only_line_actions_still_answer_403_to_a_partner(api_b, line_a):
    # A partner may never swap or move, so it learns nothing about whether the line exists.
    assert_problem(
        api_b.post(f"/api/v1/lines/{line_a.pk}/sim-swaps/", swap_to(make_iccid(9_000_003))), 403, "staff_only"
    )


# --- On PostgreSQL: two deciders at once ----------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_managers_approving_at_once_apply_the_adjustment_once(
    on_postgres, running_line_a, support_agent, manager, second_manager
):
    before = line_balance(running_line_a).data_allowance_mb
    asked = ApiClient(issue(user=support_agent)).post(
        f"/api/v1/lines/{running_line_a.pk}/adjustments/", LARGE_CREDIT
    )
    pk = asked.json()["id"]
    keys = [issue(user=manager), issue(user=second_manager)]

    def approve(index):
        response = ApiClient(keys[index]).post(f"/api/v1/corrections/{pk}/approve/", {"comment": "checked"})
        return response.status_code, response.json()["code"] if response.status_code >= 400 else None

    results = run_concurrently(approve, 2)
    assert sorted(results, key=str) == [(200, None), (409, "decided")], results
    assert line_balance(running_line_a).data_allowance_mb == before + 5_000
    assert AuditEntry.objects.filter(action="correction.applied").count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_control_without_the_lock_two_managers_both_apply_the_adjustment(
    on_postgres, running_line_a, support_agent, manager, second_manager
):
    """Shows the race the correction's row lock prevents: checking that the adjustment still
    waits for a decision, then applying it, lets both managers apply it and be told so."""
    import threading

    from accounts.audit import audit_record
    from reseller.actors import Actor

    asked = ApiClient(issue(user=support_agent)).post(
        f"/api/v1/lines/{running_line_a.pk}/adjustments/", LARGE_CREDIT
    )
    pk = asked.json()["id"]
    deciders = [manager, second_manager]
    all_have_read = threading.Barrier(2)

    def approve_naively(index):
        fresh = Correction.objects.get(pk=pk)
        # Both read before either writes: the interleaving, forced so that the control does not
        # depend on thread timing.
        all_have_read.wait(timeout=30)
        if fresh.status != Correction.Status.REQUESTED:
            return "decided"
        Correction.objects.filter(pk=pk).update(
            status=Correction.Status.APPLIED, decided_by=deciders[index], decided_at=timezone.now()
        )
        actor = Actor.staff(deciders[index])
        audit_record(actor=actor, action="correction.applied", obj=fresh, reason="checked")
        return "applied"

    assert run_concurrently(approve_naively, 2) == ["applied", "applied"]
    assert AuditEntry.objects.filter(action="correction.applied").count() == 2
