"""Partners read the webhook events we sent them, with each delivery's outcome: their own
only (another partner's event answers 404, like one that does not exist); staff tokens are
sent to the admin (404)."""

import pytest

from tests.api.conftest import ApiClient, assert_problem, issue
from tests.webhooks.conftest import an_endpoint
from webhooks.outbox import webhook_event_emit

pytestmark = pytest.mark.django_db


@pytest.fixture
def event_of_a(partner_a):
    an_endpoint(partner_a, "https://agence-a.example.com/hooks")
    return webhook_event_emit(partner=partner_a, event_type="refund.failed", data={"refund": {"id": 7}})


def test_a_partner_lists_its_events_with_their_deliveries(api_a, event_of_a, partner_b):
    webhook_event_emit(partner=partner_b, event_type="refund.failed", data={"refund": {"id": 8}})
    body = api_a.get("/api/v1/webhook-events/").json()
    assert [event["id"] for event in body["results"]] == [event_of_a.event_id]
    [event] = body["results"]
    assert (event["type"], event["data"]) == ("refund.failed", {"refund": {"id": 7}})
    assert event["deliveries"] == [
        {
            "url": "https://agence-a.example.com/hooks",
            "status": "pending",
            "attempts": 0,
            "last_status_code": None,
            "next_attempt_at": event["created"],
            "delivered_at": None,
        }
    ]
    assert api_a.get(f"/api/v1/webhook-events/{event_of_a.event_id}/").json()["id"] == event_of_a.event_id


def test_filters_by_type_and_delivery_status(api_a, event_of_a):
    assert api_a.get("/api/v1/webhook-events/", {"type": "line.renewed"}).json()["results"] == []
    pending = api_a.get("/api/v1/webhook-events/", {"delivery_status": "pending"}).json()["results"]
    assert [event["id"] for event in pending] == [event_of_a.event_id]
    assert_problem(api_a.get("/api/v1/webhook-events/", {"type": "line.sold"}), 400, "invalid")


def test_another_partners_event_answers_404(api_b, event_of_a):
    assert_problem(api_b.get(f"/api/v1/webhook-events/{event_of_a.event_id}/"), 404, "not_found")
    assert api_b.get("/api/v1/webhook-events/").json()["results"] == []


def test_a_staff_token_is_sent_to_the_admin(manager, event_of_a):
    staff = ApiClient(issue(user=manager))
    assert_problem(staff.get("/api/v1/webhook-events/"), 404, "not_found")
    assert_problem(staff.get(f"/api/v1/webhook-events/{event_of_a.event_id}/"), 404, "not_found")
