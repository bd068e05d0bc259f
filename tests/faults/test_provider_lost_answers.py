"""Stripe made the charge (or the refund) but its answer never reached us: a proxy between our
stripe library and the local Stripe peer forwards the request, then answers 500 or hangs past
our timeout. The reconciliation, or the next try under the same idempotency key, finds the
charge; nobody is charged or refunded twice."""

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from payments.checkout import payment_start
from payments.models import Payment, Refund
from payments.reconciliation import reconcile
from payments.refunds import refund_request
from plans.models import Renewal
from plans.renewals import renewal_request
from reseller.actors import Actor
from tests import stripe_peer as peer_side
from tests.faults.conftest import renew_due_lines
from tests.faults.invariants import assert_ledger_consistent
from tests.faults.stripe_proxy import lossy_stripe_proxy

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

ACTOR = Actor.system("fault suite")


@pytest.fixture
def lossy_stripe(fresh_peer, settings):
    """Our settings pointed at the proxy; a timeout of one second (Stripe's own is far longer)."""
    with lossy_stripe_proxy(fresh_peer.base_url) as (url, losses):
        settings.STRIPE_API_BASE = url
        settings.STRIPE_TIMEOUT_SECONDS = 1
        losses.hang_seconds = 3
        yield losses


def _charges(peer, customer) -> list[str]:
    listed = peer.client().v1.payment_intents.list({"customer": customer.stripe_customer_id})
    return [intent.status for intent in listed.data]


@pytest.mark.parametrize("fault", ["500", "hang"])
@pytest.mark.parametrize("recovery", ["reconciliation", "next auto-renew run"])
def test_an_auto_renew_charge_whose_answer_is_lost_is_found_not_repeated(
    auto_line, fresh_peer, lossy_stripe, fault, recovery
):
    lossy_stripe.lose("/v1/payment_intents", fault)
    renew_due_lines()  # the line's task logs the unknown outcome and goes on
    assert _charges(fresh_peer, auto_line.customer) == ["succeeded"]  # the money was taken
    payment = Payment.objects.get(renewal__line=auto_line)
    assert (payment.status, payment.stripe_payment_intent_id) == ("pending", "")

    with time_machine.travel(timezone.now() + timedelta(minutes=11), tick=True):
        if recovery == "reconciliation":
            reconcile()
        renew_due_lines()
        renew_due_lines()

    assert _charges(fresh_peer, auto_line.customer) == ["succeeded"]
    assert Payment.objects.filter(renewal__line=auto_line).count() == 1
    assert Renewal.objects.get(line=auto_line).status == "active"
    assert_ledger_consistent(stripe_peer=fresh_peer)


@pytest.mark.parametrize("fault", ["500", "hang"])
def test_a_payment_page_whose_intent_answer_was_lost_reopens_the_same_intent(
    line, plan, fresh_peer, lossy_stripe, fault
):
    renewal = renewal_request(
        line=line, plan=plan, currency="EUR", channel="admin", idempotency_key="lost", actor=ACTOR
    )
    lossy_stripe.lose("/v1/payment_intents", fault)
    with pytest.raises(Exception, match=r"(?i)payment service|timed out|timeout"):
        payment_start(renewal=renewal, method="card", actor=ACTOR)
    checkout = payment_start(renewal=renewal, method="card", actor=ACTOR)  # the customer reloads
    peer_side.customer_pays(fresh_peer.base_url, checkout.payment.stripe_payment_intent_id)
    reconcile()

    assert len(_charges(fresh_peer, line.customer)) == 1
    assert Payment.objects.filter(renewal=renewal).count() == 1
    assert_ledger_consistent(stripe_peer=fresh_peer)


@pytest.mark.parametrize("fault", ["500", "hang"])
def test_a_refund_whose_answer_was_lost_is_sent_again_under_its_key_and_made_once(
    auto_line, fresh_peer, lossy_stripe, billing_agent, fault
):
    renew_due_lines()
    payment = Payment.objects.get(renewal__line=auto_line, status="succeeded")
    lossy_stripe.lose("/v1/refunds", fault)
    refund_request(
        payment=payment,
        amount=Decimal("5.00"),
        reason="goodwill",
        entitlement="keep",
        actor=Actor.staff(billing_agent),
        comment="lost answer",
        idempotency_key="refund-lost-answer",
    )  # the outcome is unknown: the refund stays pending, for a retry under the same key
    refund = Refund.objects.get(payment=payment)
    assert (refund.status, refund.stripe_refund_id) == ("pending", "")
    assert [seen[2] for seen in lossy_stripe.seen if seen[1] == "/v1/refunds"] == [fault]

    with time_machine.travel(timezone.now() + timedelta(minutes=10), tick=True):
        reconcile()
        reconcile()

    refunds = fresh_peer.client().v1.refunds.list({"payment_intent": payment.stripe_payment_intent_id})
    assert [r.amount for r in refunds.data] == [500]
    refund.refresh_from_db()
    assert refund.stripe_refund_id == refunds.data[0].id
    assert_ledger_consistent(stripe_peer=fresh_peer)
