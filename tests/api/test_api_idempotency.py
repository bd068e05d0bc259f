"""Idempotency-Key on every POST: a retry gets the first answer, another request under the same
key is refused, and concurrent requests with one key have one effect."""

import json
import threading
from decimal import Decimal

import pytest
from django.db import connection, transaction

from accounts.models import AuditEntry, Customer
from api.idempotency import request_fingerprint
from api.models import IdempotencyRecord
from payments.wallet import wallet_top_up
from plans.models import Renewal
from reseller.actors import Actor
from tests.api.conftest import ApiClient, assert_problem, issue
from tests.concurrency import run_concurrently

CUSTOMER = {"full_name": "Li Wei", "email": "li.wei@example.com"}


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/v1/customers/", "/api/v1/renewals/", "/api/v1/refunds/"])
def test_every_post_needs_an_idempotency_key(api_a, path):
    assert_problem(api_a.post(path, {}, key=None), 400, "idempotency_key_required")
    assert not IdempotencyRecord.objects.exists()


@pytest.mark.django_db
def test_an_overlong_idempotency_key_is_refused(api_a):
    assert_problem(api_a.post("/api/v1/customers/", CUSTOMER, key="k" * 201), 400, "idempotency_key_invalid")


@pytest.mark.django_db
def test_a_retry_with_the_same_key_and_body_gets_the_first_answer_and_changes_nothing(api_a):
    first = api_a.post("/api/v1/customers/", CUSTOMER, key="create-li-wei")
    # The same JSON, spaced and ordered differently, is the same request.
    again = api_a.post(
        "/api/v1/customers/",
        raw=json.dumps(dict(reversed(CUSTOMER.items())), indent=2).encode(),
        key="create-li-wei",
    )
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Location"] == first["Location"]
    assert again["Idempotent-Replayed"] == "true"
    assert Customer.objects.count() == 1
    assert AuditEntry.objects.filter(action="customer.created").count() == 1


@pytest.mark.django_db
def test_the_same_key_with_another_body_is_a_422_and_changes_nothing(api_a):
    api_a.post("/api/v1/customers/", CUSTOMER, key="k1")
    response = api_a.post("/api/v1/customers/", {**CUSTOMER, "full_name": "Someone Else"}, key="k1")
    assert_problem(response, 422, "idempotency_key_reused")
    assert list(Customer.objects.values_list("full_name", flat=True)) == ["Li Wei"]


@pytest.mark.django_db
def test_the_same_key_on_another_endpoint_is_a_422(api_a, line_a):
    api_a.post("/api/v1/customers/", CUSTOMER, key="k1")
    assert_problem(api_a.post("/api/v1/renewals/", {"line": line_a.pk, "plan": "x"}, key="k1"), 422)


@pytest.mark.django_db
def test_a_refused_request_is_answered_the_same_way_when_retried(api_a, line_a):
    body = {"line": line_a.pk, "plan": "eu-30d-20gb", "currency": "CNY"}  # no partner price in CNY
    first = api_a.post("/api/v1/renewals/", body, key="k1")
    again = api_a.post("/api/v1/renewals/", body, key="k1")
    assert first.status_code == again.status_code == 422
    assert again.json()["code"] == "no_price"
    assert again["Content-Type"] == "application/problem+json"


@pytest.mark.django_db
def test_keys_are_per_caller_two_partners_may_use_the_same_key(api_a, api_b):
    assert api_a.post("/api/v1/customers/", CUSTOMER, key="1").status_code == 201
    assert api_b.post("/api/v1/customers/", CUSTOMER, key="1").status_code == 201
    assert Customer.objects.count() == 2


@pytest.mark.django_db
def test_all_keys_of_one_partner_share_their_idempotency_keys(api_a, partner_a):
    other_key_of_a = ApiClient(issue(partner=partner_a))
    first = api_a.post("/api/v1/customers/", CUSTOMER, key="rotate")
    again = other_key_of_a.post("/api/v1/customers/", CUSTOMER, key="rotate")
    assert again.json() == first.json()
    assert Customer.objects.count() == 1


@pytest.mark.django_db
def test_a_retry_after_a_request_crashed_midway_runs_it_once(api_a, partner_a):
    # A crash leaves the record "in progress" but unlocked (its transaction died with it).
    IdempotencyRecord.objects.create(
        scope=f"partner:{partner_a.pk}",
        key="crashed",
        fingerprint=request_fingerprint("POST", "/api/v1/customers/", json.dumps(CUSTOMER).encode()),
        method="POST",
        path="/api/v1/customers/",
    )
    response = api_a.post("/api/v1/customers/", CUSTOMER, key="crashed")
    assert response.status_code == 201
    assert Customer.objects.count() == 1
    assert IdempotencyRecord.objects.get(key="crashed").state == "completed"


# --- On PostgreSQL: real concurrency ---------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_ten_concurrent_posts_with_one_key_create_one_renewal(on_postgres, partner_a, plan):
    from tests.factories import CustomerFactory, SimLineFactory

    line = SimLineFactory(customer=CustomerFactory(partner=partner_a), plan=plan)
    wallet_top_up(
        partner=partner_a, amount=Decimal("20.00"), currency="EUR", actor=Actor.system("tests"), reason="T-1"
    )
    raw = issue(partner=partner_a)
    body = {"line": line.pk, "plan": "eu-30d-20gb"}

    def post(_index):
        response = ApiClient(raw).post("/api/v1/renewals/", body, key="one-renewal")
        return response.status_code, response.json()

    results = run_concurrently(post, 10)
    assert all(isinstance(result, tuple) for result in results), results
    statuses = sorted(status for status, _body in results)
    assert set(statuses) <= {201, 409}, statuses
    assert 201 in statuses
    created = {answer["id"] for status, answer in results if status == 201}
    assert len(created) == 1
    for status, answer in results:
        if status == 409:
            assert answer["code"] == "idempotency_request_in_progress"
    assert Renewal.objects.filter(line=line).count() == 1
    assert AuditEntry.objects.filter(action="renewal.requested").count() == 1
    # Once the first has finished, a retry gets its answer.
    retry = ApiClient(raw).post("/api/v1/renewals/", body, key="one-renewal")
    assert retry.status_code == 201, retry.content
    assert retry.json()["id"] in created


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_ten_concurrent_customer_creations_with_one_key_create_one_customer(on_postgres, partner_a):
    raw = issue(partner=partner_a)
    results = run_concurrently(
        lambda _i: ApiClient(raw).post("/api/v1/customers/", CUSTOMER, key="one-customer").status_code, 10
    )
    assert set(results) <= {201, 409}, results
    assert Customer.objects.filter(partner=partner_a).count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_request_that_finds_its_key_in_progress_answers_409_and_changes_nothing(on_postgres, partner_a):
    raw = issue(partner=partner_a)
    record = IdempotencyRecord.objects.create(
        scope=f"partner:{partner_a.pk}",
        key="busy",
        fingerprint=request_fingerprint("POST", "/api/v1/customers/", json.dumps(CUSTOMER).encode()),
        method="POST",
        path="/api/v1/customers/",
    )
    locked, release = threading.Event(), threading.Event()

    def first_request_still_running():
        # What the first request holds while its handler runs: the record's row lock.
        try:
            with transaction.atomic():
                IdempotencyRecord.objects.select_for_update(no_key=True).get(pk=record.pk)
                locked.set()
                release.wait(timeout=30)
        finally:
            connection.close()

    holder = threading.Thread(target=first_request_still_running)
    holder.start()
    try:
        assert locked.wait(timeout=30)
        response = ApiClient(raw).post("/api/v1/customers/", CUSTOMER, key="busy")
    finally:
        release.set()
        holder.join(timeout=30)
    assert_problem(response, 409, "idempotency_request_in_progress")
    assert response["Retry-After"] == "1"
    assert not Customer.objects.exists()


@pytest.mark.django_db
def test_stored_answers_are_kept_a_day_at_least_then_forgotten(api_a, settings):
    from datetime import timedelta

    from django.utils import timezone

    from api.tasks import purge_idempotency_records

    settings.API_IDEMPOTENCY_RETENTION_HOURS = 1  # never below the 24 hours promised
    api_a.post("/api/v1/customers/", CUSTOMER, key="old")
    api_a.post("/api/v1/customers/", {**CUSTOMER, "full_name": "Recent"}, key="recent")
    IdempotencyRecord.objects.filter(key="old").update(created_at=timezone.now() - timedelta(hours=25))
    IdempotencyRecord.objects.filter(key="recent").update(created_at=timezone.now() - timedelta(hours=23))
    assert purge_idempotency_records() == 1
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["recent"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_control_without_the_idempotency_layer_one_key_creates_ten_customers(on_postgres, partner_a):
    """Shows what the layer prevents: the same endpoint with its handler unwrapped, sent the
    same request with the same key ten times at once, creates ten customers."""
    from rest_framework.test import APIRequestFactory

    from api.views import CustomerList

    class CustomerListWithoutIdempotency(CustomerList):
        post = CustomerList.post.__wrapped__

    view = CustomerListWithoutIdempotency.as_view()
    raw = issue(partner=partner_a)

    def post(_index):
        request = APIRequestFactory().post(
            "/api/v1/customers/",
            CUSTOMER,
            format="json",
            HTTP_AUTHORIZATION=f"Bearer {raw}",
            HTTP_IDEMPOTENCY_KEY="one-customer",
        )
        return view(request).status_code

    assert run_concurrently(post, 10) == [201] * 10
    assert Customer.objects.filter(partner=partner_a).count() == 10
