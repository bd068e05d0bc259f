"""What the local Stripe peer does, spoken to with the real stripe library as our gateway speaks to
Stripe: each test proves one capability our payment flows rely on (docs/stripe-peer.md)."""

import socket
import time
from pathlib import Path

import pytest
import stripe

from tests.stripe_peer import (
    API_VERSION,
    RETURN_URL,
    PeerError,
    bank_decides_dispute,
    bank_fails_refund,
    card_payment_method,
    cardholder_disputes,
    configure_webhook,
    customer_authenticates,
    customer_authenticates_setup,
    customer_pays,
    customer_pays_with_wallet,
    customer_saves_card,
    remove_webhook,
    resend_event,
    reset,
    webhook_inbox,
)

WEBHOOK_SECRET = "whsec_peer_test"
THREE_D_SECURE_ALWAYS = "4000002760003184"
THREE_D_SECURE_UNLESS_SET_UP = "4000002500003155"


@pytest.fixture(scope="module")
def inbox(peer):
    with webhook_inbox() as inbox:
        configure_webhook(peer.base_url, inbox.url, WEBHOOK_SECRET)
        yield inbox
        remove_webhook(peer.base_url)


@pytest.fixture
def customer(stripe_client):
    return stripe_client.v1.customers.create(params={"name": "Alice Martin", "email": "alice@example.com"})


def new_intent(stripe_client, customer=None, **params):
    params = {"amount": 1990, "currency": "eur", "payment_method_types": ["card"], **params}
    if customer is not None:
        params["customer"] = customer.id
    return stripe_client.v1.payment_intents.create(params=params)


def saved_card(peer, stripe_client, customer, payment_method):
    """A card saved for off-session use through a SetupIntent, 3-D Secure included when the card asks."""
    setup = stripe_client.v1.setup_intents.create(
        params={"customer": customer.id, "usage": "off_session", "payment_method_types": ["card"]}
    )
    setup = customer_saves_card(peer.base_url, setup.id, payment_method)
    if setup["status"] == "requires_action":
        setup = customer_authenticates_setup(peer.base_url, setup["id"])
    assert setup["status"] == "succeeded"
    return setup["payment_method"]


def charge_off_session(stripe_client, customer, payment_method):
    return new_intent(
        stripe_client, customer, payment_method=payment_method, off_session=True, confirm=True, amount=1590
    )


# -- The process ------------------------------------------------------------------------------------


def test_peer_answers_on_127_0_0_1_only(peer):
    port = int(peer.base_url.rsplit(":", 1)[1])
    socket.create_connection(("127.0.0.1", port), timeout=2).close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.2", port), timeout=2)


def test_peer_writes_no_state_to_tmp(stripe_client, customer):
    pickle = Path("/tmp/localstripe.pickle")  # noqa: S108 - where localstripe itself would save
    before = pickle.stat().st_mtime_ns if pickle.exists() else None
    new_intent(stripe_client, customer)
    after = pickle.stat().st_mtime_ns if pickle.exists() else None
    assert after == before


# -- Customers and PaymentIntents -----------------------------------------------------------------


def test_customer_is_created_and_retrieved(stripe_client):
    created = stripe_client.v1.customers.create(
        params={"name": "Bob 王", "email": "bob@example.com", "metadata": {"backoffice_id": "7"}}
    )
    retrieved = stripe_client.v1.customers.retrieve(created.id)
    assert retrieved.id.startswith("cus_")
    assert (retrieved.name, retrieved.email, retrieved.metadata.to_dict()) == (
        "Bob 王",
        "bob@example.com",
        {"backoffice_id": "7"},
    )


def test_payment_intent_keeps_what_we_sent(stripe_client, customer):
    created = new_intent(
        stripe_client,
        customer,
        amount=15500,
        currency="CNY",
        metadata={"renewal": "42"},
        payment_method_types=["card", "alipay", "wechat_pay"],
    )
    retrieved = stripe_client.v1.payment_intents.retrieve(created.id)
    assert retrieved.id == created.id
    assert (retrieved.amount, retrieved.currency, retrieved.customer) == (15500, "cny", customer.id)
    assert retrieved.metadata.to_dict() == {"renewal": "42"}
    assert retrieved.payment_method_types == ["card", "alipay", "wechat_pay"]
    assert (retrieved.status, retrieved.latest_charge, retrieved.amount_received) == (
        "requires_payment_method",
        None,
        0,
    )
    assert retrieved.client_secret.startswith(created.id + "_secret_")


def test_same_idempotency_key_replays_the_first_payment_intent(stripe_client, customer, inbox):
    params = {"amount": 1990, "currency": "eur", "customer": customer.id, "metadata": {"renewal": "43"}}
    first = stripe_client.v1.payment_intents.create(params=params, options={"idempotency_key": "renewal-43"})
    again = stripe_client.v1.payment_intents.create(params=params, options={"idempotency_key": "renewal-43"})
    assert again.id == first.id
    assert again.last_response.headers["Idempotent-Replayed"] == "true"
    listed = stripe_client.v1.payment_intents.list(params={"customer": customer.id})
    assert [pi.id for pi in listed.data] == [first.id]
    assert first.last_response.request_id.startswith("req_")
    created = inbox.wait_for("payment_intent.created", where=lambda pi: pi["id"] == first.id).event
    assert created["request"] == {"id": first.last_response.request_id, "idempotency_key": "renewal-43"}


def test_idempotency_key_reused_with_other_parameters_is_refused(stripe_client, customer):
    params = {"amount": 1990, "currency": "eur", "customer": customer.id}
    stripe_client.v1.payment_intents.create(params=params, options={"idempotency_key": "renewal-44"})
    with pytest.raises(stripe.IdempotencyError, match="same parameters"):
        stripe_client.v1.payment_intents.create(
            params={**params, "amount": 2990}, options={"idempotency_key": "renewal-44"}
        )
    assert len(stripe_client.v1.payment_intents.list(params={"customer": customer.id}).data) == 1


def test_payment_intents_created_since_list_newest_first_page_by_page(stripe_client, customer):
    since = int(time.time())
    made = [new_intent(stripe_client, customer, amount=1000 + i).id for i in range(5)]
    params = {"customer": customer.id, "created": {"gte": since}, "limit": 2}
    pages, starting_after = [], None
    while True:
        page = stripe_client.v1.payment_intents.list(
            params={**params, **({"starting_after": starting_after} if starting_after else {})}
        )
        pages.append([pi.id for pi in page.data])
        if not page.has_more:
            break
        starting_after = page.data[-1].id
    newest_first = made[::-1]
    assert pages == [newest_first[:2], newest_first[2:4], newest_first[4:]]
    auto = stripe_client.v1.payment_intents.list(params=params).auto_paging_iter()
    assert [pi.id for pi in auto] == newest_first
    later = stripe_client.v1.payment_intents.list(
        params={"customer": customer.id, "created": {"gt": since + 60}}
    )
    assert later.data == []


def test_payment_intent_is_canceled_once(stripe_client, customer, inbox):
    intent = new_intent(stripe_client, customer)
    canceled = stripe_client.v1.payment_intents.cancel(intent.id, params={"cancellation_reason": "abandoned"})
    assert (canceled.status, canceled.cancellation_reason) == ("canceled", "abandoned")
    assert canceled.canceled_at >= intent.created
    with pytest.raises(stripe.InvalidRequestError) as refused:
        stripe_client.v1.payment_intents.cancel(intent.id)
    assert refused.value.code == "payment_intent_unexpected_state"
    inbox.wait_for("payment_intent.canceled", where=lambda pi: pi["id"] == intent.id)


# -- The customer paying ---------------------------------------------------------------------------


def test_customer_pays_with_a_card(peer, stripe_client, customer):
    intent = new_intent(stripe_client, customer)
    paid = customer_pays(peer.base_url, intent.id, "pm_card_visa")
    assert (paid["status"], paid["amount_received"]) == ("succeeded", 1990)
    assert "charges" not in paid  # the 2022-11-15 shape: latest_charge, an id
    retrieved = stripe_client.v1.payment_intents.retrieve(intent.id)
    assert retrieved.latest_charge.startswith("ch_") and retrieved.payment_method.startswith("pm_")
    charge = stripe_client.v1.charges.retrieve(retrieved.latest_charge)
    assert (charge.amount, charge.currency, charge.status, charge.paid, charge.captured) == (
        1990,
        "eur",
        "succeeded",
        True,
        True,
    )
    assert (charge.payment_intent, charge.customer, charge.payment_method) == (
        intent.id,
        customer.id,
        retrieved.payment_method,
    )
    assert charge.payment_method_details.card.last4 == "4242"
    assert charge.outcome.type == "authorized"
    expanded = stripe_client.v1.payment_intents.retrieve(intent.id, params={"expand": ["latest_charge"]})
    assert expanded.latest_charge.id == charge.id


def test_card_brand_and_last4_reach_the_charge(peer, stripe_client, customer):
    intent = new_intent(stripe_client, customer)
    paid = customer_pays(peer.base_url, intent.id, "pm_card_mastercard")
    card = stripe_client.v1.charges.retrieve(paid["latest_charge"]).payment_method_details.card
    assert (card.brand, card.last4, card.exp_month, card.exp_year) == ("mastercard", "4444", 12, 2034)


@pytest.mark.parametrize(
    ("test_card", "code", "decline_code"),
    [
        ("pm_card_chargeDeclined", "card_declined", "generic_decline"),
        ("pm_card_chargeDeclinedInsufficientFunds", "card_declined", "insufficient_funds"),
        ("pm_card_chargeDeclinedLostCard", "card_declined", "lost_card"),
        ("pm_card_chargeDeclinedExpiredCard", "expired_card", "expired_card"),
    ],
)
def test_declined_card_leaves_the_intent_waiting_for_another_method(
    peer, stripe_client, customer, test_card, code, decline_code
):
    intent = new_intent(stripe_client, customer)
    with pytest.raises(stripe.CardError) as declined:
        stripe_client.v1.payment_intents.confirm(intent.id, params={"payment_method": test_card})
    error = declined.value.error
    assert (declined.value.code, error.type, error.decline_code) == (code, "card_error", decline_code)
    assert error.payment_intent.status == "requires_payment_method"
    failed = stripe_client.v1.payment_intents.retrieve(intent.id)
    assert (failed.status, failed.payment_method, failed.amount_received) == (
        "requires_payment_method",
        None,
        0,
    )
    assert (failed.last_payment_error.code, failed.last_payment_error.decline_code) == (code, decline_code)
    assert failed.last_payment_error.charge == failed.latest_charge
    assert failed.last_payment_error.payment_method.id == error.payment_method.id
    assert stripe_client.v1.charges.retrieve(failed.latest_charge).failure_code == code

    retried = customer_pays(peer.base_url, intent.id, "pm_card_visa")
    assert (retried["status"], retried["last_payment_error"]) == ("succeeded", None)
    assert retried["latest_charge"] != failed.latest_charge


def test_declined_confirm_replays_under_its_idempotency_key(stripe_client, customer):
    intent = new_intent(stripe_client, customer)
    params = {"payment_method": "pm_card_chargeDeclined"}
    for _ in range(2):
        with pytest.raises(stripe.CardError) as declined:
            stripe_client.v1.payment_intents.confirm(
                intent.id, params=params, options={"idempotency_key": "pay-1"}
            )
    assert declined.value.headers["Idempotent-Replayed"] == "true"
    charges = stripe_client.v1.charges.list(params={"payment_intent": intent.id})
    assert len(charges.data) == 1


@pytest.mark.parametrize("number", [THREE_D_SECURE_ALWAYS, THREE_D_SECURE_UNLESS_SET_UP])
def test_three_d_secure_card_waits_for_the_customer_then_succeeds(peer, stripe_client, customer, number):
    intent = new_intent(stripe_client, customer)
    waiting = customer_pays(peer.base_url, intent.id, card_payment_method(peer.base_url, number))
    assert (waiting["status"], waiting["next_action"]["type"]) == ("requires_action", "use_stripe_sdk")
    assert waiting["latest_charge"] is None
    paid = customer_authenticates(peer.base_url, intent.id)
    assert (paid["status"], paid["next_action"], paid["amount_received"]) == ("succeeded", None, 1990)


def test_three_d_secure_with_return_url_redirects(peer, stripe_client, customer):
    intent = new_intent(stripe_client, customer)
    waiting = customer_pays(peer.base_url, intent.id, "pm_card_authenticationRequired", return_url=RETURN_URL)
    assert waiting["next_action"]["type"] == "redirect_to_url"
    assert waiting["next_action"]["redirect_to_url"]["return_url"] == RETURN_URL


def test_failed_authentication_leaves_the_intent_waiting_for_another_method(peer, stripe_client, customer):
    intent = new_intent(stripe_client, customer)
    customer_pays(peer.base_url, intent.id, "pm_card_authenticationRequired")
    failed = customer_authenticates(peer.base_url, intent.id, success=False)
    assert (failed["status"], failed["payment_method"]) == ("requires_payment_method", None)
    assert failed["last_payment_error"]["code"] == "payment_intent_authentication_failure"
    assert failed["latest_charge"] is None


def test_card_declined_after_authentication(peer, stripe_client, customer):
    intent = new_intent(stripe_client, customer)
    card = card_payment_method(peer.base_url, "4000008260003178")
    assert customer_pays(peer.base_url, intent.id, card)["status"] == "requires_action"
    declined = customer_authenticates(peer.base_url, intent.id)
    assert declined["status"] == "requires_payment_method"
    assert declined["last_payment_error"]["decline_code"] == "insufficient_funds"


def test_server_side_confirm_with_a_created_card_payment_method(stripe_client, customer):
    card = stripe_client.v1.payment_methods.create(
        params={
            "type": "card",
            "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"},
        }
    )
    intent = new_intent(stripe_client, customer, payment_method=card.id)
    assert intent.status == "requires_confirmation"
    confirmed = stripe_client.v1.payment_intents.confirm(intent.id)
    assert (confirmed.status, confirmed.payment_method) == ("succeeded", card.id)
    # Not saved to the customer, so single-use, as on Stripe.
    with pytest.raises(stripe.InvalidRequestError, match="may not be used again"):
        new_intent(stripe_client, customer, payment_method=card.id, confirm=True)


@pytest.mark.parametrize(
    ("wallet", "next_action"),
    [("alipay", "alipay_handle_redirect"), ("wechat_pay", "wechat_pay_display_qr_code")],
)
def test_wallet_payment_waits_for_the_app_then_succeeds(peer, stripe_client, wallet, next_action):
    intent = new_intent(stripe_client, amount=15500, currency="cny", payment_method_types=[wallet])
    waiting = customer_pays_with_wallet(peer.base_url, intent.id, wallet)
    assert (waiting["status"], waiting["next_action"]["type"]) == ("requires_action", next_action)
    paid = customer_authenticates(peer.base_url, intent.id)
    assert paid["status"] == "succeeded"
    assert stripe_client.v1.charges.retrieve(paid["latest_charge"]).payment_method_details.type == wallet


def test_wallet_payment_declined_in_the_app(peer, stripe_client):
    intent = new_intent(stripe_client, amount=15500, currency="cny", payment_method_types=["alipay"])
    customer_pays_with_wallet(peer.base_url, intent.id, "alipay")
    failed = customer_authenticates(peer.base_url, intent.id, success=False)
    assert failed["status"] == "requires_payment_method"
    assert failed["last_payment_error"]["code"] == "payment_intent_payment_attempt_failed"


def test_card_method_is_refused_on_an_alipay_only_intent(peer, stripe_client):
    intent = new_intent(stripe_client, amount=15500, currency="cny", payment_method_types=["alipay"])
    with pytest.raises(stripe.InvalidRequestError) as refused:
        stripe_client.v1.payment_intents.confirm(intent.id, params={"payment_method": "pm_card_visa"})
    assert refused.value.code == "payment_intent_incompatible_payment_method"


# -- Off-session charges of saved cards ------------------------------------------------------------


def test_off_session_charge_of_a_saved_card_succeeds(peer, stripe_client, customer):
    card = saved_card(peer, stripe_client, customer, "pm_card_visa")
    charged = charge_off_session(stripe_client, customer, card)
    assert (charged.status, charged.amount_received, charged.next_action) == ("succeeded", 1590, None)


def test_off_session_charge_of_a_card_that_stopped_working_is_declined(stripe_client, customer):
    card = stripe_client.v1.payment_methods.attach(
        "pm_card_chargeCustomerFail", params={"customer": customer.id}
    )
    with pytest.raises(stripe.CardError) as declined:
        charge_off_session(stripe_client, customer, card.id)
    assert (declined.value.code, declined.value.error.decline_code) == ("card_declined", "generic_decline")
    assert declined.value.error.payment_intent.status == "requires_payment_method"


def test_off_session_charge_needing_authentication_brings_the_customer_back(peer, stripe_client, customer):
    card = saved_card(
        peer, stripe_client, customer, card_payment_method(peer.base_url, THREE_D_SECURE_ALWAYS)
    )
    with pytest.raises(stripe.CardError) as declined:
        charge_off_session(stripe_client, customer, card)
    error = declined.value.error
    assert (error.code, error.decline_code, error.payment_intent.status) == (
        "authentication_required",
        "authentication_required",
        "requires_payment_method",
    )
    assert error.payment_method.id == card
    # Back on session, the customer confirms with the same card and authenticates.
    waiting = customer_pays(peer.base_url, error.payment_intent.id, card)
    assert waiting["status"] == "requires_action"
    assert customer_authenticates(peer.base_url, error.payment_intent.id)["status"] == "succeeded"


def test_off_session_charge_of_a_card_authenticated_at_setup_succeeds(peer, stripe_client, customer):
    card = saved_card(
        peer, stripe_client, customer, card_payment_method(peer.base_url, THREE_D_SECURE_UNLESS_SET_UP)
    )
    assert charge_off_session(stripe_client, customer, card).status == "succeeded"
    attached_only = stripe_client.v1.payment_methods.attach(
        card_payment_method(peer.base_url, THREE_D_SECURE_UNLESS_SET_UP), params={"customer": customer.id}
    )
    with pytest.raises(stripe.CardError, match="requires authentication"):
        charge_off_session(stripe_client, customer, attached_only.id)


# -- Refunds -----------------------------------------------------------------------------------------


def paid_intent(peer, stripe_client, customer, amount=1990):
    intent = new_intent(stripe_client, customer, amount=amount)
    paid = customer_pays(peer.base_url, intent.id)
    assert paid["status"] == "succeeded"
    return paid


def test_refund_is_created_once_per_key_retrieved_and_listed(peer, stripe_client, customer, inbox):
    since = int(time.time())
    paid = paid_intent(peer, stripe_client, customer)
    params = {"payment_intent": paid["id"], "amount": 500, "reason": "requested_by_customer"}
    refund = stripe_client.v1.refunds.create(params=params, options={"idempotency_key": "refund-1"})
    again = stripe_client.v1.refunds.create(params=params, options={"idempotency_key": "refund-1"})
    assert again.id == refund.id
    retrieved = stripe_client.v1.refunds.retrieve(refund.id)
    assert (retrieved.amount, retrieved.currency, retrieved.status, retrieved.reason) == (
        500,
        "eur",
        "succeeded",
        "requested_by_customer",
    )
    assert (retrieved.payment_intent, retrieved.charge) == (paid["id"], paid["latest_charge"])
    listed = stripe_client.v1.refunds.list(params={"created": {"gte": since}, "payment_intent": paid["id"]})
    assert [r.id for r in listed.data] == [refund.id]
    charge = stripe_client.v1.charges.retrieve(paid["latest_charge"])
    assert (charge.amount_refunded, charge.refunded) == (500, False)
    inbox.wait_for("refund.created", where=lambda r: r["id"] == refund.id)
    refunded = inbox.wait_for("charge.refunded", where=lambda c: c["id"] == charge.id)
    assert refunded.event["data"]["object"]["amount_refunded"] == 500


def test_refund_of_an_unpaid_intent_is_refused(stripe_client, customer):
    intent = new_intent(stripe_client, customer)
    with pytest.raises(stripe.InvalidRequestError) as refused:
        stripe_client.v1.refunds.create(params={"payment_intent": intent.id})
    assert refused.value.code == "charge_not_refundable"


def test_refund_that_the_bank_sends_back_fails(peer, stripe_client, customer, inbox):
    paid = paid_intent(peer, stripe_client, customer)
    refund = stripe_client.v1.refunds.create(params={"payment_intent": paid["id"]})
    failed = bank_fails_refund(peer.base_url, refund.id, failure_reason="lost_or_stolen_card")
    assert (failed["status"], failed["failure_reason"]) == ("failed", "lost_or_stolen_card")
    assert failed["failure_balance_transaction"].startswith("txn_")
    assert stripe_client.v1.refunds.retrieve(refund.id).status == "failed"
    assert stripe_client.v1.charges.retrieve(paid["latest_charge"]).amount_refunded == 0
    for event_type in ("refund.updated", "refund.failed", "charge.refund.updated"):
        delivery = inbox.wait_for(event_type, where=lambda r: r["id"] == refund.id)
        assert delivery.event["data"]["object"]["status"] == "failed"


# -- Saving cards: SetupIntents and PaymentMethods --------------------------------------------------


def test_setup_intent_saves_a_card_to_the_customer(stripe_client, customer, inbox):
    setup = stripe_client.v1.setup_intents.create(
        params={"customer": customer.id, "usage": "off_session", "payment_method_types": ["card"]}
    )
    assert setup.status == "requires_payment_method"
    confirmed = stripe_client.v1.setup_intents.confirm(setup.id, params={"payment_method": "pm_card_visa"})
    assert confirmed.status == "succeeded"
    retrieved = stripe_client.v1.setup_intents.retrieve(setup.id)
    assert (retrieved.status, retrieved.payment_method, retrieved.usage) == (
        "succeeded",
        confirmed.payment_method,
        "off_session",
    )
    inbox.wait_for("setup_intent.succeeded", where=lambda s: s["id"] == setup.id)

    def saved():
        listed = stripe_client.v1.payment_methods.list(params={"customer": customer.id, "type": "card"})
        return [pm.id for pm in listed.data]

    assert saved() == [confirmed.payment_method]
    stripe_client.v1.payment_methods.detach(confirmed.payment_method)
    assert saved() == []
    with pytest.raises(stripe.InvalidRequestError, match="may not be used again"):
        stripe_client.v1.payment_methods.attach(confirmed.payment_method, params={"customer": customer.id})


def test_setup_intent_with_a_declined_card_saves_nothing(peer, stripe_client, customer):
    setup = stripe_client.v1.setup_intents.create(params={"customer": customer.id, "usage": "off_session"})
    failed = customer_saves_card(peer.base_url, setup.id, "pm_card_chargeDeclined")
    assert (failed["status"], failed["payment_method"]) == ("requires_payment_method", None)
    assert failed["last_setup_error"]["decline_code"] == "generic_decline"
    assert stripe_client.v1.payment_methods.list(params={"customer": customer.id}).data == []


def test_setup_intent_with_three_d_secure(peer, stripe_client, customer):
    setup = stripe_client.v1.setup_intents.create(params={"customer": customer.id, "usage": "off_session"})
    waiting = customer_saves_card(peer.base_url, setup.id, "pm_card_authenticationRequired")
    assert (waiting["status"], waiting["next_action"]["type"]) == ("requires_action", "use_stripe_sdk")
    assert customer_authenticates_setup(peer.base_url, setup.id)["status"] == "succeeded"


# -- Webhooks and events ---------------------------------------------------------------------------


def test_webhook_signature_is_accepted_by_the_stripe_library(peer, stripe_client, customer, inbox):
    intent = new_intent(stripe_client, customer)
    customer_pays(peer.base_url, intent.id)
    delivery = inbox.wait_for("payment_intent.succeeded", where=lambda pi: pi["id"] == intent.id)
    header = delivery.headers["Stripe-Signature"]
    event = stripe_client.construct_event(delivery.payload, header, WEBHOOK_SECRET)
    assert (event.type, event.data.object.id, event.data.object.status) == (
        "payment_intent.succeeded",
        intent.id,
        "succeeded",
    )
    assert event.api_version == API_VERSION
    assert stripe.WebhookSignature.verify_header(delivery.payload.decode(), header, WEBHOOK_SECRET, 300)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe_client.construct_event(delivery.payload, header, "whsec_someone_else")
    with pytest.raises(stripe.SignatureVerificationError):
        stripe_client.construct_event(
            delivery.payload.replace(b"succeeded", b"canceled"), header, WEBHOOK_SECRET
        )


def test_events_of_a_declined_then_paid_intent(peer, stripe_client, customer, inbox):
    intent = new_intent(stripe_client, customer)
    customer_pays(peer.base_url, intent.id, "pm_card_chargeDeclinedInsufficientFunds")
    customer_pays(peer.base_url, intent.id, "pm_card_authenticationRequired")
    customer_authenticates(peer.base_url, intent.id)
    inbox.wait_for("payment_intent.succeeded", where=lambda pi: pi["id"] == intent.id)
    about_intent = [
        d.event["type"]
        for d in inbox.deliveries
        if intent.id in (d.event["data"]["object"]["id"], d.event["data"]["object"].get("payment_intent"))
    ]
    assert sorted(about_intent) == sorted(
        [
            "payment_intent.created",
            "charge.failed",
            "payment_intent.payment_failed",
            "payment_intent.requires_action",
            "charge.succeeded",
            "payment_intent.succeeded",
        ]
    )
    failed = inbox.wait_for("payment_intent.payment_failed", where=lambda pi: pi["id"] == intent.id)
    assert failed.event["data"]["object"]["last_payment_error"]["decline_code"] == "insufficient_funds"


def test_dispute_opens_and_is_decided(peer, stripe_client, customer, inbox):
    paid = paid_intent(peer, stripe_client, customer)
    dispute = cardholder_disputes(peer.base_url, paid["latest_charge"], reason="product_not_received")
    assert (dispute["status"], dispute["amount"], dispute["payment_intent"]) == (
        "needs_response",
        1990,
        paid["id"],
    )
    assert dispute["evidence_details"]["due_by"] >= int(time.time()) + 7 * 86400 - 60
    assert stripe_client.v1.charges.retrieve(paid["latest_charge"]).disputed is True
    assert stripe_client.v1.disputes.retrieve(dispute["id"]).reason == "product_not_received"
    with pytest.raises(stripe.InvalidRequestError) as refused:
        stripe_client.v1.refunds.create(params={"payment_intent": paid["id"]})
    assert refused.value.code == "charge_disputed"
    created = inbox.wait_for("charge.dispute.created", where=lambda d: d["id"] == dispute["id"])
    assert (
        created.event["data"]["object"]["evidence_details"]["due_by"] == dispute["evidence_details"]["due_by"]
    )

    assert bank_decides_dispute(peer.base_url, dispute["id"], status="won")["status"] == "won"
    closed = inbox.wait_for("charge.dispute.closed", where=lambda d: d["id"] == dispute["id"])
    assert closed.event["data"]["object"]["status"] == "won"


def test_accepting_a_dispute_closes_it_as_lost(peer, stripe_client, customer):
    paid = paid_intent(peer, stripe_client, customer)
    dispute = cardholder_disputes(peer.base_url, paid["latest_charge"])
    assert stripe_client.v1.disputes.close(dispute["id"]).status == "lost"
    with pytest.raises(PeerError, match="already closed"):
        bank_decides_dispute(peer.base_url, dispute["id"], status="won")


def test_event_is_retrieved_and_delivered_again(peer, stripe_client, inbox):
    created = stripe_client.v1.customers.create(params={"email": "carol@example.com"})
    event = inbox.wait_for("customer.created", where=lambda c: c["id"] == created.id).event
    assert stripe_client.v1.events.retrieve(event["id"]).data.object.id == created.id
    resend_event(peer.base_url, event["id"])
    deadline = time.monotonic() + 5
    while sum(d.event["id"] == event["id"] for d in inbox.deliveries) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sum(d.event["id"] == event["id"] for d in inbox.deliveries) == 2


# -- Isolation ---------------------------------------------------------------------------------------


def test_reset_forgets_every_object_and_keeps_the_webhook(peer, stripe_client, customer, inbox):
    reset(peer.base_url)
    with pytest.raises(stripe.InvalidRequestError) as missing:
        stripe_client.v1.customers.retrieve(customer.id)
    assert missing.value.http_status == 404
    assert stripe_client.v1.events.list().data == []
    after = stripe_client.v1.customers.create(params={"email": "dave@example.com"})
    inbox.wait_for("customer.created", where=lambda c: c["id"] == after.id)
