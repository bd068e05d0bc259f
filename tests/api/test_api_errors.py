"""Every error is an RFC 9457 problem document, in the language asked for; lists are cursor
pages without a COUNT(*); each key has its rate limit, announced with Retry-After."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from api.models import ApiKey
from tests.api.conftest import ApiClient, assert_problem, issue
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def test_an_unknown_path_under_the_api_is_a_404_problem(api_a):
    body = assert_problem(api_a.get("/api/v1/no-such-thing/"), 404, "not_found")
    assert body["instance"] == "/api/v1/no-such-thing/"
    assert body["request_id"]


def test_a_method_the_resource_lacks_is_a_405_problem(api_a, customer_a):
    assert_problem(api_a.request("DELETE", f"/api/v1/customers/{customer_a.pk}/"), 405, "method_not_allowed")


def test_a_body_that_is_not_json_is_a_400_problem(api_a):
    response = api_a.post("/api/v1/customers/", raw=b"{not json")
    assert_problem(response, 400, "parse_error")


def test_a_body_in_another_media_type_is_a_415_problem(api_a):
    response = api_a.client.post(
        "/api/v1/customers/",
        "full_name=X",
        content_type="application/x-www-form-urlencoded",
        headers={**api_a.headers, "Idempotency-Key": "k"},
    )
    assert_problem(response, 415, "unsupported_media_type")


def test_asking_for_html_is_a_406_problem(api_a):
    assert_problem(api_a.get("/api/v1/plans/", Accept="text/html"), 406, "not_acceptable")


def test_problem_titles_and_details_follow_accept_language(api_a, compiled_catalogues):
    english = assert_problem(api_a.get("/api/v1/nothing/"), 404)
    french = assert_problem(api_a.get("/api/v1/nothing/", **{"Accept-Language": "fr"}), 404)
    assert english["title"] == "Not found"
    # REST framework's own French catalogue translates its messages; ours are translated by the
    # lead's catalogue pass, so only the detail is checked here.
    assert french["detail"] != english["detail"]


def test_every_problem_type_is_described_at_its_uri(api_a):
    body = assert_problem(api_a.get("/api/v1/nothing/"), 404)
    described = ApiClient().get(body["type"]).json()
    assert described["status"] == 404
    assert described["title"] == body["title"]


def test_an_unexpected_error_is_a_500_problem_without_details(api_a, customer_a):
    # The boundary here is the database: a query that fails the way a lost connection does.
    from django.db import DatabaseError

    def failing_execute(execute, sql, params, many, context):
        if "accounts_customer" in sql:
            raise DatabaseError("connection lost")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(failing_execute):
        response = api_a.get(f"/api/v1/customers/{customer_a.pk}/")
    body = assert_problem(response, 500, "server_error")
    assert "connection lost" not in body["detail"]


# --- Pagination ----------------------------------------------------------------------------------


def test_lists_page_with_a_cursor_and_never_count(api_a, partner_a):
    customers = [CustomerFactory(partner=partner_a) for _ in range(5)]
    seen = []
    path, params = "/api/v1/customers/", {"page_size": 2}
    with CaptureQueriesContext(connection) as queries:
        while path:
            page = api_a.get(path, params).json()
            assert set(page) == {"next", "previous", "results"}
            seen += [c["id"] for c in page["results"]]
            path, params = page["next"], None
    assert seen == sorted((c.pk for c in customers), reverse=True)
    assert not [q for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]


def test_a_bad_cursor_or_page_size_is_a_400_naming_the_parameter(api_a):
    body = assert_problem(api_a.get("/api/v1/customers/", {"cursor": "garbage"}), 400)
    assert body["errors"][0]["field"] == "cursor"
    body = assert_problem(api_a.get("/api/v1/customers/", {"page_size": "1000"}), 400)
    assert body["errors"][0]["field"] == "page_size"


@pytest.mark.parametrize(
    ("path", "parameter"),
    [("/api/v1/payments/", "customer"), ("/api/v1/lines/", "customer"), ("/api/v1/renewals/", "line")],
)
def test_an_id_beyond_what_a_database_stores_is_a_400_naming_it(api_a, path, parameter):
    body = assert_problem(api_a.get(path, {parameter: str(2**63)}), 400)
    assert [error["field"] for error in body["errors"]] == [parameter]


def test_a_list_page_costs_a_fixed_number_of_queries(api_a, customer_a, plan, django_assert_max_num_queries):
    from tests.factories import SimLineFactory

    for _ in range(20):
        SimLineFactory(customer=customer_a, plan=plan)
    # key, networks, last-use write, lines, balances (2)
    with django_assert_max_num_queries(7):
        assert len(api_a.get("/api/v1/lines/").json()["results"]) == 20


# --- Rate limits -------------------------------------------------------------------------------


def test_a_key_over_its_rate_limit_gets_429_with_retry_after(partner_a, plan):
    client = ApiClient(issue(partner=partner_a))
    ApiKey.objects.update(rate_limit_per_minute=3)
    for _ in range(3):
        assert client.get("/api/v1/plans/").status_code == 200
    response = client.get("/api/v1/plans/")
    assert_problem(response, 429, "throttled")
    assert 1 <= int(response["Retry-After"]) <= 60


def test_rate_limits_are_per_key(partner_a, plan):
    first = ApiClient(issue(partner=partner_a))
    second = ApiClient(issue(partner=partner_a))
    ApiKey.objects.update(rate_limit_per_minute=1)
    assert first.get("/api/v1/plans/").status_code == 200
    assert first.get("/api/v1/plans/").status_code == 429
    assert second.get("/api/v1/plans/").status_code == 200


@pytest.mark.parametrize(
    ("path", "most"),
    [
        # key (with its partner), allowed networks, last-use write, then the page's own queries
        ("/api/v1/plans/", 5),  # plans, their prices
        ("/api/v1/customers/", 4),
        ("/api/v1/renewals/", 4),
        ("/api/v1/payments/", 4),
        ("/api/v1/refunds/", 4),
        ("/api/v1/lines/{line}/usage/", 5),  # the line, its usage
    ],
)
def test_every_list_page_costs_a_fixed_number_of_queries(
    api_a, line_a, path, most, django_assert_max_num_queries
):
    from tests.factories import PaymentFactory, RefundFactory, RenewalFactory, UsageFactory

    for _ in range(10):
        payment = PaymentFactory(renewal=RenewalFactory(line=line_a))
        RefundFactory(payment=payment, amount=payment.amount / 2)
        UsageFactory(line=line_a)
    with django_assert_max_num_queries(most):
        response = api_a.get(path.format(line=line_a.pk))
    assert len(response.json()["results"]) >= 1
