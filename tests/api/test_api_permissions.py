"""The access matrix: every endpoint × verb for partner A, partner B, keys lacking a scope,
and a staff token of each role. Another partner's objects answer 404, never 403; a missing
scope or role permission answers 403."""

from decimal import Decimal

import pytest

from accounts.models import Customer, SimLine
from payments.models import Refund
from plans.models import Renewal
from tests.api.conftest import ApiClient, assert_problem, issue
from tests.factories import PaymentFactory, RenewalFactory, SimLineFactory, UsageFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def objects_of_a(customer_a, plan):
    line_a = SimLineFactory(customer=customer_a, plan=plan, esim=True)
    renewal = RenewalFactory(line=line_a)
    payment = PaymentFactory(renewal=renewal)
    refund = Refund.objects.create(
        payment=payment, amount=Decimal("1.00"), currency="EUR", reason="goodwill", idempotency_key="r-a"
    )
    UsageFactory(line=line_a)
    return {
        "customer": line_a.customer_id,
        "line": line_a.pk,
        "renewal": renewal.pk,
        "payment": payment.pk,
        "refund": refund.pk,
    }


DETAIL_PATHS = [
    "/api/v1/customers/{customer}/",
    "/api/v1/lines/{line}/",
    "/api/v1/lines/{line}/usage/",
    "/api/v1/lines/{line}/esim-qr.svg",
    "/api/v1/renewals/{renewal}/",
    "/api/v1/payments/{payment}/",
    "/api/v1/refunds/{refund}/",
]
LIST_PATHS = [
    "/api/v1/customers/",
    "/api/v1/lines/",
    "/api/v1/renewals/",
    "/api/v1/payments/",
    "/api/v1/refunds/",
]


@pytest.mark.parametrize("path", DETAIL_PATHS)
def test_partner_a_reads_its_own_objects(api_a, objects_of_a, path):
    assert api_a.get(path.format(**objects_of_a)).status_code == 200


@pytest.mark.parametrize("path", DETAIL_PATHS)
def test_another_partners_objects_answer_404(api_b, objects_of_a, path):
    assert_problem(api_b.get(path.format(**objects_of_a)), 404, "not_found")


@pytest.mark.parametrize("path", LIST_PATHS)
def test_another_partners_objects_are_absent_from_lists(api_b, objects_of_a, path):
    response = api_b.get(path)
    assert response.status_code == 200
    assert response.json()["results"] == []


def test_renewing_another_partners_line_answers_404_and_creates_nothing(api_b, objects_of_a):
    response = api_b.post("/api/v1/renewals/", {"line": objects_of_a["line"], "plan": "eu-30d-20gb"})
    assert_problem(response, 404, "line_not_found")
    assert Renewal.objects.count() == 1  # the fixture's


def test_registering_a_line_for_another_partners_customer_answers_404_and_creates_nothing(
    api_b, objects_of_a
):
    response = api_b.post("/api/v1/lines/", {"customer": objects_of_a["customer"], "kind": "esim"})
    assert_problem(response, 404, "customer_not_found")
    assert SimLine.objects.count() == 1  # the fixture's


def test_refunding_another_partners_payment_answers_404_and_refunds_nothing(api_b, objects_of_a):
    response = api_b.post(
        "/api/v1/refunds/", {"payment": objects_of_a["payment"], "amount": "1.00", "reason": "goodwill"}
    )
    assert_problem(response, 404, "payment_not_found")
    assert Refund.objects.count() == 1


# --- Scopes ------------------------------------------------------------------------------------

POSTS = [
    ("/api/v1/customers/", lambda o: {"full_name": "X"}, "write"),
    ("/api/v1/renewals/", lambda o: {"line": o["line"], "plan": "eu-30d-20gb"}, "write"),
    (
        "/api/v1/refunds/",
        lambda o: {"payment": o["payment"], "amount": "1.00", "reason": "goodwill"},
        "refund",
    ),
    ("/api/v1/lines/", lambda o: {"customer": o["customer"], "kind": "esim"}, "write"),
]


@pytest.mark.parametrize(("path", "body", "scope"), POSTS)
def test_a_read_only_key_cannot_post(partner_a, objects_of_a, path, body, scope):
    client = ApiClient(issue(partner=partner_a, scopes=("read",)))
    body = assert_problem(client.post(path, body(objects_of_a)), 403, "scope_missing")
    assert f"“{scope}”" in body["detail"]


def test_a_write_key_cannot_refund(partner_a, objects_of_a):
    client = ApiClient(issue(partner=partner_a, scopes=("read", "write")))
    path, body, _scope = POSTS[2]
    assert_problem(client.post(path, body(objects_of_a)), 403, "scope_missing")
    assert Refund.objects.count() == 1


@pytest.mark.parametrize("path", ["/api/v1/plans/", *LIST_PATHS, *DETAIL_PATHS])
def test_a_key_without_read_cannot_read(partner_a, objects_of_a, path):
    client = ApiClient(issue(partner=partner_a, scopes=("write",)))
    assert_problem(client.get(path.format(**objects_of_a)), 403, "scope_missing")


# --- Staff roles -------------------------------------------------------------------------------

ALLOWED = {
    # role: the POST endpoints and the reads it may use (accounts/roles.py)
    "support": {"posts": {"/api/v1/customers/"}, "refund_reads": False},
    "billing": {"posts": {"/api/v1/renewals/", "/api/v1/refunds/"}, "refund_reads": True},
    "manager": {
        "posts": {"/api/v1/customers/", "/api/v1/renewals/", "/api/v1/refunds/", "/api/v1/lines/"},
        "refund_reads": True,
    },
}


@pytest.fixture
def staff_client(request, support_agent, billing_agent, manager):
    user = {"support": support_agent, "billing": billing_agent, "manager": manager}[request.param]
    return request.param, ApiClient(issue(user=user))


@pytest.mark.parametrize("staff_client", ["support", "billing", "manager"], indirect=True)
@pytest.mark.parametrize(("path", "body", "scope"), POSTS)
def test_each_staff_role_posts_what_its_role_allows(staff_client, objects_of_a, path, body, scope):
    role, client = staff_client
    response = client.post(path, body(objects_of_a))
    if path in ALLOWED[role]["posts"]:
        assert response.status_code == 201, response.content
    else:
        assert_problem(response, 403, "role_forbidden")


@pytest.mark.parametrize("staff_client", ["support", "billing", "manager"], indirect=True)
@pytest.mark.parametrize("path", DETAIL_PATHS)
def test_staff_tokens_see_every_partners_objects_their_role_may_view(staff_client, objects_of_a, path):
    role, client = staff_client
    response = client.get(path.format(**objects_of_a))
    if "refunds" in path and not ALLOWED[role]["refund_reads"]:
        assert_problem(response, 403, "role_forbidden")
    else:
        assert response.status_code == 200, response.content


def test_staff_created_customers_belong_to_the_reseller_unless_a_partner_is_named(api_manager):
    assert api_manager.post("/api/v1/customers/", {"full_name": "X"}).status_code == 201
    assert Customer.objects.get().partner is None
