"""The nightly reconciliation repairs what lost webhooks left behind and reports what differs."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from payments.checkout import payment_refresh, payment_start
from payments.models import Payment, ReconciliationRun, Refund
from payments.reconciliation import reconcile
from plans.models import Renewal
from plans.renewals import renewal_request
from reseller.actors import Actor
from tests import stripe_peer as peer_side
from tests.factories import SimLineFactory

ACTOR = Actor.system("tests")


@pytest.fixture
def fresh_peer(stripe_peer):
    """An empty Stripe: what the reconciliation lists is this test's alone."""
    peer_side.reset(stripe_peer.base_url)
    return stripe_peer


def started_payment(plan, key="rec-1"):
    line = SimLineFactory(plan=plan, expires_at=timezone.now() + timedelta(days=3))
    renewal = renewal_request(
        line=line, plan=plan, currency="EUR", channel="self_service", idempotency_key=key, actor=ACTOR
    )
    return payment_start(renewal=renewal, method="card", actor=ACTOR).payment


def test_a_payment_whose_webhook_was_lost_is_marked_paid_and_granted(fresh_peer, plan):
    payment = started_payment(plan)
    peer_side.customer_pays(fresh_peer.base_url, payment.stripe_payment_intent_id)  # no webhook reaches us

    run = reconcile()

    payment.refresh_from_db()
    assert payment.status == "succeeded" and payment.receipt_number
    assert Renewal.objects.get(pk=payment.renewal_id).status in Renewal.GRANTED_STATUSES
    assert [note["kind"] for note in run.repaired] == ["payment"]
    assert run.intents_checked == 1 and run.error == "" and run.finished_at is not None


def test_a_second_run_finds_nothing_to_repair(fresh_peer, plan):
    payment = started_payment(plan)
    peer_side.customer_pays(fresh_peer.base_url, payment.stripe_payment_intent_id)
    reconcile()
    again = reconcile()
    assert again.repaired == [] and again.differences == []
    assert again.since < again.started_at


def test_a_refund_made_at_stripe_without_us_is_recorded(fresh_peer, plan):
    payment = started_payment(plan)
    peer_side.customer_pays(fresh_peer.base_url, payment.stripe_payment_intent_id)
    payment = payment_refresh(payment, actor=ACTOR)
    fresh_peer.client().v1.refunds.create({"payment_intent": payment.stripe_payment_intent_id, "amount": 250})

    run = reconcile()

    refund = Refund.objects.get(payment=payment)
    assert (refund.amount, refund.status) == (Decimal("2.50"), "succeeded")
    assert [note["kind"] for note in run.repaired] == ["refund"]


def test_a_refund_whose_outcome_was_unknown_is_asked_again_and_made_once(fresh_peer, plan):
    payment = started_payment(plan)
    peer_side.customer_pays(fresh_peer.base_url, payment.stripe_payment_intent_id)
    payment = payment_refresh(payment, actor=ACTOR)
    # Written before Stripe was asked, then the process died: pending, no Stripe id.
    refund = Refund.objects.create(
        payment=payment,
        amount=Decimal("5.00"),
        currency="EUR",
        reason="customer_request",
        idempotency_key="lost-answer",
    )
    Refund.objects.filter(pk=refund.pk).update(created_at=timezone.now() - timedelta(hours=1))

    reconcile()
    reconcile()

    refund.refresh_from_db()
    assert refund.status == "succeeded" and refund.stripe_refund_id
    at_stripe = fresh_peer.client().v1.refunds.list({"payment_intent": payment.stripe_payment_intent_id})
    assert len(at_stripe.data) == 1


def test_an_intent_with_a_foreign_amount_is_reported_not_granted(fresh_peer, plan):
    payment = started_payment(plan)
    Payment.objects.filter(pk=payment.pk).update(amount=Decimal("9.90"))  # ours says otherwise
    peer_side.customer_pays(fresh_peer.base_url, payment.stripe_payment_intent_id)

    run = reconcile()

    assert [note["kind"] for note in run.differences] == ["payment_review"]
    assert Payment.objects.get(pk=payment.pk).status == "pending"


def test_stripe_unreachable_is_recorded_on_the_run(stripe_peer, settings, db):
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"  # nothing listens
    run = reconcile()
    assert run.error.startswith("Stripe") and run.finished_at is not None
    assert ReconciliationRun.objects.count() == 1


def test_a_link_paid_days_after_it_was_made_is_repaired_too(fresh_peer, plan):
    from datetime import timedelta

    payment = started_payment(plan)
    reconcile()  # the intent is listed once, still unpaid
    ReconciliationRun.objects.update(started_at=timezone.now() + timedelta(days=2))  # later runs look later
    Payment.objects.filter(pk=payment.pk).update(created_at=timezone.now() - timedelta(days=3))
    peer_side.customer_pays(fresh_peer.base_url, payment.stripe_payment_intent_id)  # webhook lost

    run = reconcile()

    payment.refresh_from_db()
    assert payment.status == "succeeded"
    assert [note["kind"] for note in run.repaired] == ["payment"]
