"""Chargebacks are kept beside their payment with the evidence deadline, listed for Billing,
and an older event never reopens a closed dispute."""

import time

import pytest
from django.urls import reverse

from payments.disputes import dispute_apply
from payments.models import Dispute
from reseller.actors import Actor
from tests.auth.second_factor import login_staff
from tests.factories import PaymentFactory

ACTOR = Actor.system("tests")


@pytest.fixture
def card_payment(db):
    return PaymentFactory(stripe_payment_intent_id="pi_disputed", stripe_charge_id="ch_disputed")


def stripe_dispute(status="needs_response", **fields):
    return {
        "id": "dp_1",
        "object": "dispute",
        "amount": 1990,
        "currency": "eur",
        "charge": "ch_disputed",
        "payment_intent": "pi_disputed",
        "reason": "fraudulent",
        "status": status,
        "created": int(time.time()),
        "evidence_details": {"due_by": int(time.time()) + 7 * 86400},
        **fields,
    }


def test_a_new_dispute_is_recorded_with_its_deadline(card_payment):
    dispute = dispute_apply(stripe_dispute(), actor=ACTOR)
    assert dispute.payment == card_payment
    assert (dispute.status, dispute.reason, str(dispute.amount)) == ("needs_response", "fraudulent", "19.90")
    assert dispute.evidence_due_by is not None and dispute.closed_at is None


def test_the_same_dispute_twice_is_one_row_and_closing_it_is_final(card_payment):
    dispute_apply(stripe_dispute(), actor=ACTOR)
    dispute_apply(stripe_dispute(status="under_review"), actor=ACTOR)
    dispute_apply(stripe_dispute(status="lost"), actor=ACTOR)
    dispute_apply(stripe_dispute(status="needs_response"), actor=ACTOR)  # an older event, late
    dispute = Dispute.objects.get()
    assert dispute.status == "lost" and dispute.closed_at is not None


def test_a_dispute_found_by_its_charge_alone(card_payment):
    assert dispute_apply(stripe_dispute(payment_intent=None), actor=ACTOR).payment == card_payment


def test_a_dispute_on_a_payment_that_is_not_ours_is_ignored(db):
    assert dispute_apply(stripe_dispute(charge="ch_other", payment_intent="pi_other"), actor=ACTOR) is None
    assert Dispute.objects.count() == 0


def test_billing_sees_open_disputes_in_a_work_queue(client, billing_agent, card_payment):
    dispute_apply(stripe_dispute(), actor=ACTOR)
    login_staff(client, billing_agent)
    index = client.get(reverse("admin:index")).content.decode()
    assert "Open disputes" in index
    queue = next(
        q for q in client.get(reverse("admin:index")).context["work_queues"] if q["label"] == "Open disputes"
    )
    assert queue["count"] == 1
    listing = client.get(queue["url"])
    assert listing.status_code == 200 and b"dp_1" in listing.content


def test_a_dispute_opened_and_lost_at_stripe_reaches_the_payment(
    stripe_peer, stripe_webhooks, plan, django_capture_on_commit_callbacks
):
    from datetime import timedelta

    from django.utils import timezone

    from payments.checkout import payment_refresh, payment_start
    from plans.renewals import renewal_request
    from tests import stripe_peer as peer_side
    from tests.factories import SimLineFactory
    from tests.payments.test_stripe_payments import deliver

    line = SimLineFactory(plan=plan, expires_at=timezone.now() + timedelta(days=3))
    renewal = renewal_request(
        line=line, plan=plan, currency="EUR", channel="self_service", idempotency_key="d", actor=ACTOR
    )
    payment = payment_start(renewal=renewal, method="card", actor=ACTOR).payment
    peer_side.customer_pays(stripe_peer.base_url, payment.stripe_payment_intent_id)
    payment = payment_refresh(payment, actor=ACTOR)
    opened = peer_side.cardholder_disputes(stripe_peer.base_url, payment.stripe_charge_id)
    is_ours = lambda obj: obj.get("id") == opened["id"]  # noqa: E731
    with django_capture_on_commit_callbacks(execute=True):
        deliver(stripe_webhooks.wait_for("charge.dispute.created", where=is_ours))
    assert Dispute.objects.get().status == "needs_response"
    peer_side.bank_decides_dispute(stripe_peer.base_url, opened["id"], status="lost")
    with django_capture_on_commit_callbacks(execute=True):
        deliver(stripe_webhooks.wait_for("charge.dispute.closed", where=is_ours))
    dispute = Dispute.objects.get()
    assert dispute.status == "lost" and dispute.closed_at is not None and dispute.payment == payment
