"""Paying a renewal through Stripe, end to end: our code talks to the local Stripe peer with the
real stripe library, the peer's signed webhooks are delivered to our endpoint, and the races that
cost other projects money run on PostgreSQL with real threads."""

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from payments import stripe_gateway
from payments.checkout import payment_refresh, payment_start
from payments.models import Payment, ProviderEvent, Refund
from payments.provider_events import event_process, events_sweep
from payments.refunds import refund_request, refundable
from plans.models import Renewal
from plans.renewals import renewal_request
from reseller.actors import Actor
from reseller.errors import DomainError
from tests import stripe_peer as peer_side
from tests.concurrency import run_concurrently
from tests.factories import SimLineFactory

ACTOR = Actor.system("tests")
RACE = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture
def renewal(plan):
    line = SimLineFactory(plan=plan, expires_at=timezone.now() + timedelta(days=3))
    return renewal_request(
        line=line, plan=plan, currency="EUR", channel="self_service", idempotency_key="pay-1", actor=ACTOR
    )


def deliver(delivery, client=None):
    """Hand one of the peer's webhook deliveries to our endpoint, as Stripe would, and run
    the processing task it queues (after commit, as in production)."""
    client = client or Client()
    response = client.post(
        "/payments/stripe/webhook/",
        data=delivery.payload,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=delivery.headers["Stripe-Signature"],
    )
    assert response.status_code == 200, response.content
    return response


def event_of(inbox, event_type, intent_id):
    """The peer's delivery of ``event_type`` about our PaymentIntent (the peer is shared by the
    whole session: another test's late deliveries must not be mistaken for ours)."""
    return inbox.wait_for(
        event_type, where=lambda obj: intent_id in (obj.get("id"), obj.get("payment_intent"))
    )


def process_all():
    for pk in ProviderEvent.objects.filter(processed_at__isnull=True).values_list("pk", flat=True):
        event_process(pk)


def paid_intent_of(payment, stripe_peer, card="pm_card_visa"):
    return peer_side.customer_pays(stripe_peer.base_url, payment.stripe_payment_intent_id, card)


# --- Starting a payment ----------------------------------------------------------------------


def test_a_payment_intent_carries_the_renewals_price_and_ids_and_is_opened_once(stripe_peer, renewal):
    first = payment_start(renewal=renewal, method="card", actor=ACTOR)
    again = payment_start(renewal=renewal, method="card", actor=ACTOR)
    assert again.payment.pk == first.payment.pk
    assert again.payment.stripe_payment_intent_id == first.payment.stripe_payment_intent_id
    intent = stripe_gateway.payment_intent_retrieve(first.payment.stripe_payment_intent_id)
    assert (intent["amount"], intent["currency"]) == (1990, "eur")
    assert intent["metadata"]["renewal_id"] == str(renewal.pk)
    assert intent["metadata"]["payment_id"] == str(first.payment.pk)
    assert intent["payment_method_types"] == ["card"]
    assert first.client_secret.startswith(intent["id"])


def test_a_crash_after_stripe_answered_reuses_the_same_intent(stripe_peer, renewal):
    started = payment_start(renewal=renewal, method="card", actor=ACTOR)
    intent_id = started.payment.stripe_payment_intent_id
    Payment.objects.filter(pk=started.payment.pk).update(stripe_payment_intent_id="")  # the save was lost
    again = payment_start(renewal=renewal, method="card", actor=ACTOR)
    assert again.payment.stripe_payment_intent_id == intent_id  # same idempotency key, same intent


def test_alipay_and_wechat_pay_get_their_own_intent_types(stripe_peer, renewal):
    alipay = payment_start(renewal=renewal, method="alipay", actor=ACTOR)
    wechat = payment_start(renewal=renewal, method="wechat_pay", actor=ACTOR)
    assert stripe_gateway.payment_intent_retrieve(alipay.payment.stripe_payment_intent_id)[
        "payment_method_types"
    ] == ["alipay"]
    assert stripe_gateway.payment_intent_retrieve(wechat.payment.stripe_payment_intent_id)[
        "payment_method_types"
    ] == ["wechat_pay"]


def test_a_paid_renewal_cannot_be_paid_again(stripe_peer, renewal):
    started = payment_start(renewal=renewal, method="card", actor=ACTOR)
    paid_intent_of(started.payment, stripe_peer)
    payment_refresh(started.payment, actor=ACTOR)
    with pytest.raises(DomainError):
        payment_start(renewal=renewal, method="card", actor=ACTOR)


def test_the_pay_page_takes_nothing_from_the_browser_but_the_signed_link(stripe_peer, renewal, client):
    from payments.links import pay_url

    started = payment_start(renewal=renewal, method="card", actor=ACTOR)
    page = client.get(pay_url(started.payment), {"amount": "1", "currency": "JPY", "plan": "other"})
    assert page.status_code == 200
    assert "19.90\u00a0EUR".encode() in page.content
    assert stripe_gateway.payment_intent_retrieve(started.payment.stripe_payment_intent_id)["amount"] == 1990
    assert client.get("/payments/pay/forged-token/").status_code == 404


# --- Confirmation: webhook and return page -----------------------------------------------------


def test_the_webhook_marks_the_payment_paid_and_the_return_page_shows_it(
    stripe_peer, stripe_webhooks, renewal, client, django_capture_on_commit_callbacks, mailoutbox
):
    from payments.links import return_url

    started = payment_start(renewal=renewal, method="card", actor=ACTOR)
    paid_intent_of(started.payment, stripe_peer)
    delivery = stripe_webhooks.wait_for(
        "payment_intent.succeeded", where=lambda o: o["id"] == started.payment.stripe_payment_intent_id
    )
    with django_capture_on_commit_callbacks(execute=True):
        deliver(delivery)
    payment = Payment.objects.get(pk=started.payment.pk)
    assert payment.status == "succeeded" and payment.stripe_charge_id.startswith("ch_")
    page = client.get(return_url(payment))
    assert b"payment is complete" in page.content and payment.receipt_number.encode() in page.content
    assert [m.to for m in mailoutbox if m.attachments] == [[renewal.line.customer.email]]


def test_the_return_page_alone_confirms_a_payment_whose_webhook_was_lost(stripe_peer, renewal, client):
    from payments.links import return_url

    started = payment_start(renewal=renewal, method="card", actor=ACTOR)
    paid_intent_of(started.payment, stripe_peer)
    page = client.get(return_url(started.payment))
    assert b"payment is complete" in page.content
    assert Renewal.objects.get(pk=renewal.pk).status in Renewal.GRANTED_STATUSES


def test_a_declined_card_tells_the_customer_why_in_their_language(stripe_peer, renewal, client):
    from payments.links import return_url

    renewal.line.customer.language = "fr"
    renewal.line.customer.save()
    started = payment_start(renewal=renewal, method="card", actor=ACTOR)
    paid_intent_of(started.payment, stripe_peer, card="pm_card_chargeDeclinedInsufficientFunds")
    page = client.get(return_url(started.payment)).content.decode()
    payment = Payment.objects.get(pk=started.payment.pk)
    assert (payment.status, payment.decline_code) == ("failed", "insufficient_funds")
    assert "solde suffisant" in page  # "Votre carte n’a pas un solde suffisant…" in French
    assert Renewal.objects.get(pk=renewal.pk).status == "pending_payment"


def test_3d_secure_waits_for_the_customer_then_succeeds(stripe_peer, renewal):
    started = payment_start(renewal=renewal, method="card", actor=ACTOR)
    intent = paid_intent_of(started.payment, stripe_peer, card="pm_card_threeDSecure2Required")
    assert intent["status"] == "requires_action"
    assert payment_refresh(started.payment, actor=ACTOR).status == "requires_action"
    peer_side.customer_authenticates(stripe_peer.base_url, intent["id"])
    assert payment_refresh(started.payment, actor=ACTOR).status == "succeeded"


# --- The races ---------------------------------------------------------------------------------


@pytest.mark.parametrize("copies", [5])
@pytest.mark.usefixtures("on_postgres")
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_same_webhook_five_times_at_once_charges_once_and_grants_one_period(
    stripe_peer, stripe_webhooks, renewal, copies
):
    started = payment_start(renewal=renewal, method="card", actor=ACTOR)
    paid_intent_of(started.payment, stripe_peer)
    delivery = event_of(stripe_webhooks, "payment_intent.succeeded", started.payment.stripe_payment_intent_id)
    answers = run_concurrently(lambda i: deliver(delivery).content, copies)
    assert sorted(answers) == [b"duplicate"] * (copies - 1) + [b"stored"]
    events_sweep(now=timezone.now() + timedelta(hours=1))  # whatever the tasks left
    assert ProviderEvent.objects.filter(processed_at__isnull=False).count() == 1
    assert Payment.objects.filter(renewal=renewal, status="succeeded").count() == 1
    renewal.refresh_from_db()
    assert renewal.status in Renewal.GRANTED_STATUSES
    assert Renewal.objects.filter(line=renewal.line, period_start__isnull=False).count() == 1


@pytest.mark.usefixtures("on_postgres")
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_events_in_reverse_order_end_in_succeeded(stripe_peer, stripe_webhooks, renewal):
    # A declined card, then a good one, on the same intent: failed then succeeded at Stripe,
    # delivered to us the other way round.
    started = payment_start(renewal=renewal, method="card", actor=ACTOR)
    base = stripe_peer.base_url
    peer_side.customer_pays(base, started.payment.stripe_payment_intent_id, "pm_card_chargeDeclined")
    peer_side.customer_pays(base, started.payment.stripe_payment_intent_id, "pm_card_visa")
    failed = event_of(
        stripe_webhooks, "payment_intent.payment_failed", started.payment.stripe_payment_intent_id
    )
    succeeded = event_of(
        stripe_webhooks, "payment_intent.succeeded", started.payment.stripe_payment_intent_id
    )
    for delivery in (succeeded, failed):
        deliver(delivery)
    process_all()
    payment = Payment.objects.get(pk=started.payment.pk)
    assert payment.status == "succeeded" and payment.decline_code == ""
    assert Renewal.objects.get(pk=renewal.pk).status in Renewal.GRANTED_STATUSES


@pytest.mark.usefixtures("on_postgres")
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_webhook_racing_the_return_page_marks_paid_once(stripe_peer, stripe_webhooks, renewal):
    started = payment_start(renewal=renewal, method="card", actor=ACTOR)
    paid_intent_of(started.payment, stripe_peer)
    delivery = event_of(stripe_webhooks, "payment_intent.succeeded", started.payment.stripe_payment_intent_id)
    deliver(delivery)  # stored; its processing races the return page below
    event_pk = ProviderEvent.objects.get().pk

    def contender(i):
        if i % 2:
            return event_process(event_pk)
        return payment_refresh(Payment.objects.get(pk=started.payment.pk), actor=ACTOR).status

    outcomes = run_concurrently(contender, 6)
    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    payment = Payment.objects.get(pk=started.payment.pk)
    assert payment.status == "succeeded"
    assert Renewal.objects.filter(line=renewal.line, status__in=Renewal.GRANTED_STATUSES).count() == 1
    from payments.models import ReceiptSequence

    assert sum(ReceiptSequence.objects.values_list("last_number", flat=True)) == 1  # one number issued


def test_payment_failed_after_succeeded_is_ignored(
    stripe_peer, stripe_webhooks, renewal, django_capture_on_commit_callbacks
):
    started = payment_start(renewal=renewal, method="card", actor=ACTOR)
    base = stripe_peer.base_url
    peer_side.customer_pays(base, started.payment.stripe_payment_intent_id, "pm_card_chargeDeclined")
    peer_side.customer_pays(base, started.payment.stripe_payment_intent_id, "pm_card_visa")
    with django_capture_on_commit_callbacks(execute=True):
        deliver(
            event_of(stripe_webhooks, "payment_intent.succeeded", started.payment.stripe_payment_intent_id)
        )
    with django_capture_on_commit_callbacks(execute=True):
        deliver(
            event_of(
                stripe_webhooks, "payment_intent.payment_failed", started.payment.stripe_payment_intent_id
            )
        )
    assert Payment.objects.get(pk=started.payment.pk).status == "succeeded"


# --- Refunds through Stripe ------------------------------------------------------------------


@pytest.fixture
def paid(stripe_peer, renewal):
    started = payment_start(renewal=renewal, method="card", actor=ACTOR)
    paid_intent_of(started.payment, stripe_peer)
    return payment_refresh(started.payment, actor=ACTOR)


def stripe_refund(payment, amount, actor, key, entitlement="keep", reason="customer_request"):
    return refund_request(
        payment=payment,
        amount=Decimal(amount),
        reason=reason,
        entitlement=entitlement,
        actor=actor,
        idempotency_key=key,
    )


def test_a_partial_refund_goes_to_stripe_once_and_succeeds(
    paid, staff_actor, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        refund = stripe_refund(paid, "5.00", staff_actor, "r1")
    refund.refresh_from_db()
    assert refund.status == "succeeded" and refund.stripe_refund_id.startswith("re_")
    at_stripe = list(stripe_gateway.refunds_of_intent(paid.stripe_payment_intent_id))
    assert [(r["id"], r["amount"]) for r in at_stripe] == [(refund.stripe_refund_id, 500)]
    assert refundable(paid) == Decimal("14.90")


def test_a_refund_the_bank_sends_back_fails_and_frees_its_amount(
    stripe_peer, paid, staff_actor, stripe_webhooks, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        refund = stripe_refund(paid, "19.90", staff_actor, "r1", entitlement="end_period")
    refund.refresh_from_db()
    peer_side.bank_fails_refund(stripe_peer.base_url, refund.stripe_refund_id)
    with django_capture_on_commit_callbacks(execute=True):
        deliver(event_of(stripe_webhooks, "refund.failed", paid.stripe_payment_intent_id))
    refund.refresh_from_db()
    assert (refund.status, refund.failure_reason) == ("failed", "expired_or_canceled_card")
    assert refundable(paid) == Decimal("19.90")  # the customer's money to refund another way
    paid.refresh_from_db()
    assert "failed after it had succeeded" in paid.review_reason  # Billing is told


@pytest.mark.usefixtures("on_postgres")
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_agents_refunding_at_once_through_stripe_cannot_over_refund(paid, billing_agent, manager):
    agents = [Actor.staff(billing_agent), Actor.staff(manager)]

    def attempt(i):
        try:
            return stripe_refund(Payment.objects.get(pk=paid.pk), "15.00", agents[i % 2], f"agent-{i}").status
        except DomainError as exc:
            return exc.code

    outcomes = run_concurrently(attempt, 4)
    assert sorted(outcomes) == ["over_refund"] * 3 + ["succeeded"]
    assert len(list(stripe_gateway.refunds_of_intent(paid.stripe_payment_intent_id))) == 1


@pytest.mark.usefixtures("on_postgres")
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_refund_webhook_arriving_before_our_refund_row_commits_waits_and_records_once(
    paid, staff_actor, stripe_webhooks, monkeypatch
):
    """Stripe's refund.created reaches us after Stripe made the refund but before we recorded
    Stripe's answer: the event finds our refund by its metadata and records it once."""
    from payments import refunds as refunds_module

    stripe_answered = threading.Event()
    may_commit = threading.Event()
    real_create = stripe_gateway.refund_create

    def create_then_hold(params, *, idempotency_key):
        answer = real_create(params, idempotency_key=idempotency_key)  # the real call to the peer
        stripe_answered.set()
        may_commit.wait(timeout=30)
        return answer

    monkeypatch.setattr(refunds_module.stripe_gateway, "refund_create", create_then_hold)

    def agent():
        from django.db import transaction

        try:
            with transaction.atomic():  # e.g. a view wrapped in a transaction: Stripe is asked on commit
                stripe_refund(
                    Payment.objects.get(pk=paid.pk), "19.90", staff_actor, "early", reason="duplicate"
                )
        finally:
            connection.close()

    worker = threading.Thread(target=agent)
    worker.start()
    assert stripe_answered.wait(timeout=30)
    deliver(event_of(stripe_webhooks, "refund.created", paid.stripe_payment_intent_id))
    process_all()
    may_commit.set()
    worker.join(timeout=30)
    events_sweep(now=timezone.now() + timedelta(hours=1))
    refunds = list(Refund.objects.filter(payment=paid))
    assert [(r.amount, r.status) for r in refunds] == [(Decimal("19.90"), "succeeded")]
    assert not ProviderEvent.objects.filter(processed_at__isnull=True).exists()


def test_a_refund_event_for_a_row_not_yet_committed_is_kept_for_later(paid, stripe_peer):
    from payments.refunds import RefundNotYetVisible, refund_apply_provider

    provider_refund = {
        "id": "re_early",
        "object": "refund",
        "amount": 500,
        "currency": "eur",
        "status": "succeeded",
        "payment_intent": paid.stripe_payment_intent_id,
        "metadata": {"refund_id": "987654", "payment_id": str(paid.pk)},
    }
    with pytest.raises(RefundNotYetVisible):
        refund_apply_provider(provider_refund, actor=ACTOR)
    assert Refund.objects.count() == 0


def test_a_refund_made_on_stripes_dashboard_is_recorded_from_its_event(
    paid, stripe_peer, stripe_webhooks, django_capture_on_commit_callbacks
):
    stripe_peer.client().v1.refunds.create({"payment_intent": paid.stripe_payment_intent_id, "amount": 300})
    with django_capture_on_commit_callbacks(execute=True):
        deliver(event_of(stripe_webhooks, "charge.refunded", paid.stripe_payment_intent_id))
    refund = Refund.objects.get(payment=paid)
    assert (refund.amount, refund.status, refund.reason) == (Decimal("3.00"), "succeeded", "other")


def test_switching_method_cancels_the_other_attempt_so_it_cannot_be_paid_too(stripe_peer, renewal):
    card = payment_start(renewal=renewal, method="card", actor=ACTOR).payment
    alipay = payment_start(renewal=renewal, method="alipay", actor=ACTOR).payment
    card.refresh_from_db()
    assert card.status == "cancelled"
    assert stripe_gateway.payment_intent_retrieve(card.stripe_payment_intent_id)["status"] == "canceled"
    assert alipay.status == "pending"


def test_switching_method_after_the_first_was_paid_is_refused(stripe_peer, renewal):
    card = payment_start(renewal=renewal, method="card", actor=ACTOR).payment
    paid_intent_of(card, stripe_peer)  # paid at Stripe; our webhook has not arrived yet
    with pytest.raises(DomainError) as refused:
        payment_start(renewal=renewal, method="wechat_pay", actor=ACTOR)
    assert refused.value.code == "already_paid"
    card.refresh_from_db()
    assert card.status == "succeeded"


def test_paying_in_cash_cancels_the_card_page_left_open(
    stripe_peer, renewal, staff_actor, django_capture_on_commit_callbacks
):
    from payments.manual import payment_record_manual

    card = payment_start(renewal=renewal, method="card", actor=ACTOR).payment
    with django_capture_on_commit_callbacks(execute=True):
        payment_record_manual(
            renewal=renewal,
            method="cash",
            amount=Decimal("19.90"),
            currency="EUR",
            reference="till 1",
            actor=staff_actor,
        )
    card.refresh_from_db()
    assert card.status == "cancelled"
    assert stripe_gateway.payment_intent_retrieve(card.stripe_payment_intent_id)["status"] == "canceled"


def test_opening_an_old_link_does_not_cancel_the_customers_other_attempt(stripe_peer, renewal, client):
    from payments.links import pay_url

    card = payment_start(renewal=renewal, method="card", actor=ACTOR).payment
    Payment.objects.filter(pk=card.pk).update(method="card")
    alipay = payment_start(renewal=renewal, method="alipay", actor=ACTOR).payment  # cancels the card one
    card.refresh_from_db()
    assert client.get(pay_url(card)).status_code == 200  # shows "cancelled", changes nothing
    alipay.refresh_from_db()
    assert alipay.status == "pending"
    assert stripe_gateway.payment_intent_retrieve(alipay.stripe_payment_intent_id)["status"] != "canceled"


def test_money_taken_for_a_renewal_cancelled_meanwhile_gets_its_receipt_and_is_parked_not_granted(
    stripe_peer, renewal
):
    from plans.renewals import renewal_cancel

    expiry_before = renewal.line.expires_at
    started = payment_start(renewal=renewal, method="card", actor=ACTOR)
    renewal_cancel(renewal=renewal, actor=ACTOR, reason="the customer gave up")
    paid_intent_of(started.payment, stripe_peer)  # the page was still open: the card is charged
    payment = payment_refresh(started.payment, actor=ACTOR)
    assert (payment.status, bool(payment.receipt_number)) == ("succeeded", True)
    assert "renewal was closed" in payment.review_reason
    renewal.refresh_from_db()
    assert (renewal.status, renewal.period_start) == ("cancelled", None)
    renewal.line.refresh_from_db()
    assert renewal.line.expires_at == expiry_before  # no period granted
