"""Refunds through the API reach Stripe (the local Stripe peer) with the admin's service; what
Stripe answers after the commit is the answer, to the request and to its retries."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from payments import stripe_gateway
from payments.checkout import payment_refresh, payment_start
from payments.models import Payment, Refund
from plans.renewals import renewal_request
from reseller.actors import Actor
from tests import stripe_peer as peer_side
from tests.api.conftest import ApiClient, assert_problem, issue
from tests.factories import CustomerFactory, SimLineFactory

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)
ACTOR = Actor.system("tests")


@pytest.fixture
def card_payment_of_a(stripe_peer, partner_a, plan):
    line = SimLineFactory(
        customer=CustomerFactory(partner=partner_a), plan=plan, expires_at=timezone.now() + timedelta(days=3)
    )
    renewal = renewal_request(
        line=line, plan=plan, currency="EUR", channel="self_service", idempotency_key="pay-1", actor=ACTOR
    )
    started = payment_start(renewal=renewal, method="card", actor=ACTOR)
    peer_side.customer_pays(stripe_peer.base_url, started.payment.stripe_payment_intent_id, "pm_card_visa")
    return payment_refresh(started.payment, actor=ACTOR)


def test_a_partner_refunds_part_of_a_card_payment_through_stripe(card_payment_of_a, partner_a):
    api = ApiClient(issue(partner=partner_a))
    body = {
        "payment": card_payment_of_a.pk,
        "amount": "5.00",
        "reason": "service_failure",
        "comment": "2 days off",
    }
    response = api.post("/api/v1/refunds/", body, key="refund-1")
    assert response.status_code == 201, response.content
    refund = Refund.objects.get()
    assert (refund.status, refund.amount) == ("succeeded", Decimal("5.00"))
    at_stripe = list(stripe_gateway.refunds_of_intent(card_payment_of_a.stripe_payment_intent_id))
    assert [(r["id"], r["amount"]) for r in at_stripe] == [(refund.stripe_refund_id, 500)]
    assert api.get(f"/api/v1/refunds/{refund.pk}/").json()["status"] == "succeeded"
    # A retry refunds nothing more.
    assert api.post("/api/v1/refunds/", body, key="refund-1").status_code == 201
    assert len(list(stripe_gateway.refunds_of_intent(card_payment_of_a.stripe_payment_intent_id))) == 1


def test_a_refund_stripe_refuses_answers_422_now_and_on_every_retry(card_payment_of_a, partner_a):
    # A payment Stripe no longer knows (deleted in test mode, say): Stripe refuses the refund.
    Payment.objects.filter(pk=card_payment_of_a.pk).update(stripe_payment_intent_id="pi_unknown_to_stripe")
    api = ApiClient(issue(partner=partner_a))
    body = {"payment": card_payment_of_a.pk, "amount": "5.00", "reason": "goodwill"}
    first = api.post("/api/v1/refunds/", body, key="refund-1")
    assert_problem(first, 422, "provider_refused")
    again = api.post("/api/v1/refunds/", body, key="refund-1")
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert list(Refund.objects.values_list("status", flat=True)) == ["failed"]
