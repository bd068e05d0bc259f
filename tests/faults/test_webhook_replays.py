"""Stripe's webhooks delivered five times each and in reverse order (Stripe retries for days
and promises no order), and five copies of one event at once: the signed events the local
Stripe peer sent, posted to our endpoint. One payment, one period, one refund, each event
stored and processed once."""

from decimal import Decimal

import pytest
from django.test import Client

from payments.checkout import payment_start
from payments.models import Payment, ProviderEvent, Refund
from payments.refunds import refund_request
from plans.models import Renewal
from plans.renewals import renewal_request
from reseller.actors import Actor
from tests import stripe_peer as peer_side
from tests.concurrency import run_concurrently
from tests.faults.invariants import assert_ledger_consistent

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

ACTOR = Actor.system("fault suite")
WEBHOOK = "/payments/stripe/webhook/"


def _post(delivery, client=None):
    client = client or Client()
    return client.post(
        WEBHOOK,
        data=delivery.payload,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=delivery.headers["Stripe-Signature"],
    )


def _customer_pays(line, plan, peer, inbox):
    """The customer pays on Stripe's fields; what Stripe says about it waits in the inbox."""
    renewal = renewal_request(
        line=line, plan=plan, currency="EUR", channel="admin", idempotency_key="replays", actor=ACTOR
    )
    checkout = payment_start(renewal=renewal, method="card", actor=ACTOR)
    intent_id = checkout.payment.stripe_payment_intent_id
    peer_side.customer_pays(peer.base_url, intent_id)
    inbox.wait_for("payment_intent.succeeded", where=lambda obj: obj["id"] == intent_id)
    payment = Payment.objects.get(pk=checkout.payment.pk)
    assert payment.status == "pending"  # only the webhooks will tell us
    return renewal, payment


def _deliver_backwards_five_times(inbox) -> set[str]:
    deliveries = list(reversed(inbox.deliveries))
    for delivery in deliveries:
        for _ in range(5):
            assert _post(delivery).status_code == 200
    return {delivery.event["id"] for delivery in deliveries}


def test_every_event_five_times_in_reverse_order_pays_grants_and_refunds_once(
    line, plan, fresh_peer, stripe_webhooks, billing_agent
):
    renewal, payment = _customer_pays(line, plan, fresh_peer, stripe_webhooks)
    _deliver_backwards_five_times(stripe_webhooks)
    payment.refresh_from_db()
    assert payment.status == "succeeded" and payment.receipt_number
    assert Renewal.objects.get(pk=renewal.pk).status == "active"

    refund_request(
        payment=payment,
        amount=Decimal("5.00"),
        reason="goodwill",
        entitlement="keep",
        actor=Actor.staff(billing_agent),
        idempotency_key="replays-refund",
    )
    stripe_webhooks.wait_for("charge.refunded", where=lambda obj: obj["payment_intent"] == intent_id(payment))
    # Everything again, the refund's events first and the payment's last.
    event_ids = _deliver_backwards_five_times(stripe_webhooks)

    assert ProviderEvent.objects.count() == len(event_ids)
    assert not ProviderEvent.objects.filter(processed_at__isnull=True).exists()
    assert Payment.objects.get(pk=payment.pk).receipt_number == payment.receipt_number
    assert list(Refund.objects.values_list("amount", "status")) == [(Decimal("5.00"), "succeeded")]
    assert_ledger_consistent(stripe_peer=fresh_peer)


def intent_id(payment) -> str:
    return payment.stripe_payment_intent_id


@pytest.mark.postgres
@pytest.mark.usefixtures("on_postgres")
def test_five_copies_of_each_event_at_once_are_stored_and_applied_once(
    line, plan, fresh_peer, stripe_webhooks
):
    renewal, payment = _customer_pays(line, plan, fresh_peer, stripe_webhooks)
    for delivery in reversed(stripe_webhooks.deliveries):
        answers = run_concurrently(lambda _i, delivery=delivery: _post(delivery).status_code, 5)
        assert answers == [200] * 5

    assert ProviderEvent.objects.count() == len({d.event["id"] for d in stripe_webhooks.deliveries})
    assert Payment.objects.get(pk=payment.pk).status == "succeeded"
    assert Renewal.objects.get(pk=renewal.pk).status == "active"
    assert_ledger_consistent(stripe_peer=fresh_peer)
