"""Personas of the API: partners A and B with keys of each scope, a staff token per role, and
a client that speaks JSON with a key."""

import json
import uuid

import pytest
from django.test import Client

from api.keys import api_key_issue
from reseller.actors import Actor
from tests.factories import CustomerFactory, SimLineFactory

ISSUER = Actor.system("tests")


class ApiClient:
    """Django's test client with ``Authorization: Bearer <key>``, JSON bodies, and a new
    Idempotency-Key on every POST unless one is given."""

    def __init__(self, raw_key: str | None = None, **headers):
        self.client = Client()
        self.headers = dict(headers)
        if raw_key:
            self.headers["Authorization"] = f"Bearer {raw_key}"

    def get(self, path: str, params=None, **headers):
        return self.client.get(path, params or {}, headers={**self.headers, **headers})

    def post(self, path: str, body=None, *, key: str | None = "new", raw: bytes | None = None, **headers):
        extra = {**self.headers, **headers}
        if key == "new":
            extra["Idempotency-Key"] = uuid.uuid4().hex
        elif key is not None:
            extra["Idempotency-Key"] = key
        data = raw if raw is not None else json.dumps(body if body is not None else {})
        return self.client.post(path, data, content_type="application/json", headers=extra)

    def request(self, method: str, path: str, **headers):
        return self.client.generic(method, path, headers={**self.headers, **headers})


def issue(*, scopes=("read", "write", "refund"), **owner) -> str:
    return api_key_issue(name="tests", scopes=set(scopes), actor=ISSUER, **owner).raw


@pytest.fixture
def api_a(partner_a):
    """Partner A with every scope."""
    return ApiClient(issue(partner=partner_a))


@pytest.fixture
def api_b(partner_b):
    return ApiClient(issue(partner=partner_b))


@pytest.fixture
def api_a_read_only(partner_a):
    return ApiClient(issue(partner=partner_a, scopes=("read",)))


@pytest.fixture
def api_support(support_agent):
    return ApiClient(issue(user=support_agent))


@pytest.fixture
def api_billing(billing_agent):
    return ApiClient(issue(user=billing_agent))


@pytest.fixture
def api_manager(manager):
    return ApiClient(issue(user=manager))


@pytest.fixture
def customer_a(partner_a):
    return CustomerFactory(partner=partner_a, full_name="Client de A")


@pytest.fixture
def customer_b(partner_b):
    return CustomerFactory(partner=partner_b, full_name="Customer of B")


@pytest.fixture
def line_a(customer_a, plan):
    return SimLineFactory(customer=customer_a, plan=plan)


@pytest.fixture
def line_b(customer_b, plan):
    return SimLineFactory(customer=customer_b, plan=plan)


def assert_problem(response, status: int, code: str | None = None) -> dict:
    """The answer is an RFC 9457 problem with this status (and machine code)."""
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert {"type", "title", "status", "detail", "code"} <= set(body), body
    assert body["status"] == status
    assert body["type"].startswith("/api/v1/problems/")
    if code is not None:
        assert body["code"] == code, body
    return body
