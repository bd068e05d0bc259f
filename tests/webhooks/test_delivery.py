"""Deliveries to a partner's real HTTP server: signed as docs/api.md says (checked with the
documented snippet itself), retried on the documented schedule until a 2xx or 72 hours,
every attempt visible in the admin, sent by the sweep when the task was lost, never sent
twice by duplicate or concurrent tasks."""

import re
import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from pathlib import Path

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import AuditEntry
from payments.wallet import wallet_pay_renewal, wallet_top_up
from plans.renewals import renewal_request
from reseller.actors import Actor
from tests.auth.second_factor import login_staff
from tests.concurrency import run_concurrently
from tests.factories import CustomerFactory, SimLineFactory
from webhooks.delivery import _post, event_body, webhook_delivery_attempt
from webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEvent
from webhooks.outbox import webhook_event_emit
from webhooks.signing import SIGNATURE_HEADER, signature_header
from webhooks.tasks import sweep_webhook_deliveries

DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"
START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
SCHEDULE_MINUTES = [1, 5, 30, 120, 300, 600]


def documented_verify():
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    [snippet] = [block for block in blocks if "def verify_webhook" in block]
    namespace: dict = {}
    exec(compile(snippet, str(DOC), "exec"), namespace)  # noqa: S102 — our own doc
    return namespace["verify_webhook"]


@pytest.fixture
def clock(time_machine):
    time_machine.move_to(START, tick=False)
    return time_machine


def partner_renewal(partner, plan):
    """A renewal of partner ``partner``'s line, paid from its wallet: a line.renewed event."""
    line = SimLineFactory(customer=CustomerFactory(partner=partner), plan=plan)
    as_partner = Actor.for_partner(partner)
    wallet_top_up(
        partner=partner, amount=Decimal("100.00"), currency="EUR", actor=Actor.system("t"), reason="T"
    )
    renewal = renewal_request(
        line=line, plan=plan, currency="EUR", channel="partner_api", idempotency_key="k1", actor=as_partner
    )
    wallet_pay_renewal(renewal=renewal, actor=as_partner)
    return renewal


def an_event(partner):
    return webhook_event_emit(partner=partner, event_type="refund.succeeded", data={"refund": {"id": 1}})


@pytest.mark.django_db
def test_a_delivery_is_signed_so_that_the_documented_snippet_verifies_it(
    partner_a, plan, endpoint_a, partner_server, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        renewal = partner_renewal(partner_a, plan)

    [request] = partner_server.received
    verify = documented_verify()
    signature = request.headers["Reseller-Signature"]
    assert re.fullmatch(r"t=\d+,v1=[0-9a-f]{64}", signature)
    assert verify(request.body, signature, endpoint_a.secret) is True
    assert verify(request.body.replace(b"paid", b"gift"), signature, endpoint_a.secret) is False
    assert verify(request.body, signature, "whsec_another_partners_secret") is False
    event = WebhookEvent.objects.get()
    assert request.headers["Webhook-Id"] == event.event_id
    assert request.headers["Content-Type"] == "application/json"
    assert event.event_type == "line.renewed"
    assert event.data["renewal"]["id"] == renewal.pk
    assert WebhookDelivery.objects.get().status == "delivered"


@pytest.mark.django_db
def test_the_documented_snippet_refuses_a_signature_older_than_five_minutes(
    partner_a, endpoint_a, partner_server, clock, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        an_event(partner_a)
    [request] = partner_server.received
    verify = documented_verify()
    clock.move_to(START + timedelta(minutes=4, seconds=59))
    assert verify(request.body, request.headers["Reseller-Signature"], endpoint_a.secret) is True
    clock.move_to(START + timedelta(minutes=5, seconds=1))
    assert verify(request.body, request.headers["Reseller-Signature"], endpoint_a.secret) is False


def _due(delivery) -> datetime:
    delivery.refresh_from_db()
    return delivery.next_attempt_at


def _assert_delay(before: datetime, after: datetime, minutes: int) -> None:
    """The documented delay, lengthened by at most 10 % of jitter."""
    delay = timedelta(minutes=minutes)
    assert delay <= after - before <= delay * 1.1, (after - before, minutes)


@pytest.mark.django_db
def test_a_failing_delivery_is_retried_on_schedule_and_each_attempt_shows_in_the_admin(
    partner_a, endpoint_a, partner_server, clock, manager, django_capture_on_commit_callbacks
):
    partner_server.statuses = [500, 500, 503]
    with django_capture_on_commit_callbacks(execute=True):
        event = an_event(partner_a)
    delivery = WebhookDelivery.objects.get(event=event)
    assert len(partner_server.received) == 1
    attempts_at = [START]
    for minutes in SCHEDULE_MINUTES[:3]:
        due = _due(delivery)
        _assert_delay(attempts_at[-1], due, minutes)
        clock.move_to(due - timedelta(seconds=1))
        sweep_webhook_deliveries()  # not due yet: nothing is sent
        assert len(partner_server.received) == len(attempts_at)
        clock.move_to(due)
        sweep_webhook_deliveries()
        attempts_at.append(due)
        assert len(partner_server.received) == len(attempts_at)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 4, 200)
    assert delivery.next_attempt_at is None
    log = list(delivery.attempt_log.values_list("number", "started_at", "status_code", "succeeded"))
    assert log == [
        (1, attempts_at[0], 500, False),
        (2, attempts_at[1], 500, False),
        (3, attempts_at[2], 503, False),
        (4, attempts_at[3], 200, True),
    ]
    assert delivery.attempt_log.first().response_body == "partner server error"
    # Every request carried the same event, signed anew.
    assert len({r.body for r in partner_server.received}) == 1

    client = Client()
    login_staff(client, manager)
    changelist = client.get("/admin/webhooks/webhookdelivery/", {"status__exact": "delivered"})
    assert changelist.status_code == 200
    assert event.event_id in changelist.content.decode()
    page = client.get(f"/admin/webhooks/webhookdelivery/{delivery.pk}/change/").content.decode()
    assert page.count("partner server error") == 3
    assert "503" in page and "500" in page


@pytest.mark.django_db
def test_a_delivery_that_never_succeeds_is_failed_after_72_hours_of_retries(
    partner_a, endpoint_a, partner_server, clock, django_capture_on_commit_callbacks
):
    partner_server.statuses = [500] * 100
    with django_capture_on_commit_callbacks(execute=True):
        event = an_event(partner_a)
    delivery = WebhookDelivery.objects.get(event=event)
    while _due(delivery) is not None:
        clock.move_to(delivery.next_attempt_at)
        sweep_webhook_deliveries()
    delivery.refresh_from_db()
    assert delivery.status == "failed"
    times = list(delivery.attempt_log.values_list("started_at", flat=True))
    for number, (before, after) in enumerate(pairwise(times), start=1):
        _assert_delay(before, after, SCHEDULE_MINUTES[min(number, len(SCHEDULE_MINUTES)) - 1])
    assert times[-2] < START + timedelta(hours=72) <= times[-1]
    assert len(partner_server.received) == len(times) == delivery.attempts
    # Failed is final: the sweep sends it no more.
    clock.move_to(START + timedelta(days=10))
    assert sweep_webhook_deliveries() == 0
    assert len(partner_server.received) == len(times)


@pytest.mark.django_db
def test_an_event_whose_task_was_lost_is_sent_by_the_sweep(
    partner_a, plan, endpoint_a, partner_server, django_capture_on_commit_callbacks
):
    # The broker is down: the task enqueued after commit never arrives.
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        partner_renewal(partner_a, plan)
    assert callbacks  # the enqueue was there, and was lost
    assert partner_server.received == []
    assert WebhookDelivery.objects.get().status == "pending"

    assert sweep_webhook_deliveries() == 1
    assert len(partner_server.received) == 1
    assert WebhookDelivery.objects.get().status == "delivered"
    assert sweep_webhook_deliveries() == 0


@pytest.mark.django_db
def test_a_duplicate_task_never_sends_a_delivered_event_again(
    partner_a, endpoint_a, partner_server, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        an_event(partner_a)
    delivery = WebhookDelivery.objects.get()
    assert webhook_delivery_attempt(delivery_id=delivery.pk) == "skipped"
    assert len(partner_server.received) == 1
    assert WebhookAttempt.objects.count() == 1


@pytest.mark.django_db
def test_an_endpoint_not_subscribed_or_switched_off_gets_nothing(partner_a, partner_server):
    from tests.webhooks.conftest import an_endpoint

    an_endpoint(partner_a, partner_server.url, event_types=["line.expiring"])
    off = an_endpoint(partner_a, partner_server.url).endpoint
    off.is_active = False
    off.save()
    an_event(partner_a)
    assert WebhookEvent.objects.count() == 1
    assert WebhookDelivery.objects.count() == 0


def a_due_delivery(partner, partner_server) -> WebhookDelivery:
    """One pending delivery, due, never attempted, to the partner server (committed: the race
    tests' threads read it on their own connections)."""
    from django.contrib.contenttypes.models import ContentType

    from tests.webhooks.conftest import an_endpoint

    # An earlier transactional test emptied the tables: content types came back under new ids.
    ContentType.objects.clear_cache()
    an_endpoint(partner, partner_server.url)
    an_event(partner)  # autocommit: its enqueue runs at once; the server holds the answer
    delivery = WebhookDelivery.objects.get()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status="pending", next_attempt_at=START, attempts=0)
    WebhookAttempt.objects.all().delete()
    partner_server.received.clear()
    return delivery


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_tasks_for_one_delivery_send_it_once(on_postgres, partner_a, partner_server):
    delivery = a_due_delivery(partner_a, partner_server)

    outcomes = run_concurrently(lambda _: webhook_delivery_attempt(delivery_id=delivery.pk), 8)

    assert sorted(outcomes) == ["delivered"] + ["skipped"] * 7
    assert len(partner_server.received) == 1
    assert WebhookAttempt.objects.filter(delivery=delivery).count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_control_without_the_claim_concurrent_tasks_send_one_delivery_eight_times(
    on_postgres, partner_a, partner_server
):
    """Shows the race the claim prevents: checking that the delivery is pending and due, then
    sending, then marking it delivered lets every task through."""
    delivery = a_due_delivery(partner_a, partner_server)
    all_have_read = threading.Barrier(8)

    def send_naively(_index):
        fresh = WebhookDelivery.objects.select_related("event", "endpoint").get(pk=delivery.pk)
        # Every task reads before any sends: the interleaving the claim exists to stop, forced
        # so that the control does not depend on thread timing.
        all_have_read.wait(timeout=30)
        if fresh.status == "pending" and fresh.next_attempt_at <= timezone.now():
            body = event_body(fresh.event)
            signature = signature_header(secret=fresh.endpoint.secret, timestamp=int(time.time()), body=body)
            _post(fresh.endpoint.url, body, {"Content-Type": "application/json", SIGNATURE_HEADER: signature})
            WebhookDelivery.objects.filter(pk=delivery.pk).update(status="delivered")

    run_concurrently(send_naively, 8)

    assert len(partner_server.received) == 8
    assert len({request.body for request in partner_server.received}) == 1  # one event, eight times


@pytest.mark.django_db
def test_a_manager_resends_a_delivery_with_a_reason_and_it_is_audited(
    partner_a, endpoint_a, partner_server, manager, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        an_event(partner_a)
    delivered = WebhookDelivery.objects.get()
    client = Client()
    login_staff(client, manager)
    action = {"action": "resend_now", "_selected_action": [delivered.pk]}
    confirm = client.post("/admin/webhooks/webhookdelivery/", action)
    assert confirm.status_code == 200 and "reason" in confirm.content.decode()
    assert WebhookDelivery.objects.count() == 1
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/admin/webhooks/webhookdelivery/", {**action, "reason": "partner lost its database"})

    again = WebhookDelivery.objects.exclude(pk=delivered.pk).get()
    assert (again.resent_from, again.status, again.event_id) == (delivered, "delivered", delivered.event_id)
    assert len(partner_server.received) == 2
    entry = AuditEntry.objects.get(action="webhook.resent")
    assert (entry.actor_user, entry.reason) == (manager, "partner lost its database")


@pytest.mark.django_db
def test_support_and_billing_see_no_webhooks_in_the_admin(
    partner_a, endpoint_a, support_agent, billing_agent
):
    an_event(partner_a)
    delivery = WebhookDelivery.objects.get()
    for agent in (support_agent, billing_agent):
        client = Client()
        login_staff(client, agent)
        assert client.get("/admin/webhooks/webhookdelivery/").status_code == 403
        response = client.post(
            "/admin/webhooks/webhookdelivery/",
            {"action": "resend_now", "_selected_action": [delivery.pk], "reason": "x"},
        )
        assert response.status_code == 403
    assert WebhookDelivery.objects.count() == 1
