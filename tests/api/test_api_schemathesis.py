"""Property-based tests of the API against its own schema (schemathesis): whatever a client
sends, within or outside the schema, no answer is a server error, and every answer matches
what the schema says (status, media type, body, headers). Bounded so CI stays quick."""

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
)

from tests.api.conftest import issue
from tests.factories import CustomerFactory, PaymentFactory, RenewalFactory, SimLineFactory


@pytest.fixture
def api_schema(db):
    # As Django's test client does: a request ending must not close the test's transaction.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", WSGIHandler())
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def manager_key(manager, partner_a, plan):
    # Some rows to find, so generated ids sometimes name a real object.
    line = SimLineFactory(customer=CustomerFactory(partner=partner_a), plan=plan, esim=True)
    PaymentFactory(renewal=RenewalFactory(line=line))
    return issue(user=manager)


CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    content_type_conformance,
    response_headers_conformance,
]


# schemathesis' own pytest integration does not run under pytest 9 yet: each operation gets its
# own bounded Hypothesis run here instead, for valid data and for data the schema refuses.
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_the_api_keeps_to_its_schema(api_schema, manager_key, mode):
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 14
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=10,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def keeps_to_its_schema(case):
            case.call_and_validate(headers={"Authorization": f"Bearer {manager_key}"}, checks=CHECKS)

        try:
            keeps_to_its_schema()
        except Unsatisfiable:
            # Every input of this operation is valid (no parameters, no body): no negative case.
            assert mode == GenerationMode.NEGATIVE, operation.label
