"""Customers save a card for auto-renew through a SetupIntent (card data stays at Stripe), see
it listed, and remove it; another customer's card is "not found"."""

import pytest

from payments.models import SavedPaymentMethod
from payments.saved_methods import (
    saved_method_from_setup_intent,
    saved_method_remove,
    saved_method_setup_start,
    saved_methods_of,
)
from reseller.actors import Actor
from reseller.errors import DomainError
from tests import stripe_peer as peer_side
from tests.factories import CustomerFactory

ACTOR = Actor.system("tests")


def save_card(stripe_peer, customer, card="pm_card_visa", key="form-1"):
    setup = saved_method_setup_start(customer=customer, actor=ACTOR, attempt_key=key)
    peer_side.customer_saves_card(stripe_peer.base_url, setup.setup_intent_id, card)
    return setup, saved_method_from_setup_intent(setup.setup_intent_id, actor=ACTOR)


def test_a_saved_card_is_listed_with_what_the_customer_recognises(stripe_peer, db):
    customer = CustomerFactory()
    setup, saved = save_card(stripe_peer, customer)
    assert setup.client_secret.startswith(setup.setup_intent_id)
    assert (saved.kind, saved.brand, saved.last4) == ("card", "visa", "4242")
    assert list(saved_methods_of(customer)) == [saved]
    customer.refresh_from_db()
    assert customer.stripe_customer_id.startswith("cus_")


def test_the_setup_event_and_the_return_page_record_the_card_once(stripe_peer, db):
    customer = CustomerFactory()
    setup, _ = save_card(stripe_peer, customer)
    saved_method_from_setup_intent(setup.setup_intent_id, actor=ACTOR)
    assert SavedPaymentMethod.objects.filter(customer=customer).count() == 1


def test_a_double_submit_opens_one_setup_intent(stripe_peer, db):
    customer = CustomerFactory()
    first = saved_method_setup_start(customer=customer, actor=ACTOR, attempt_key="same-form")
    again = saved_method_setup_start(customer=customer, actor=ACTOR, attempt_key="same-form")
    assert first.setup_intent_id == again.setup_intent_id


def test_a_declined_card_is_not_saved(stripe_peer, db):
    customer = CustomerFactory()
    _, saved = save_card(stripe_peer, customer, card="pm_card_chargeDeclined")
    assert saved is None and not saved_methods_of(customer).exists()


def test_removing_a_card_detaches_it_at_stripe(stripe_peer, db):
    customer = CustomerFactory()
    _, saved = save_card(stripe_peer, customer)
    saved_method_remove(customer=customer, method_id=saved.pk, actor=ACTOR)
    assert not saved_methods_of(customer).exists()
    listed = stripe_peer.client().v1.payment_methods.list(
        {"customer": customer.stripe_customer_id, "type": "card"}
    )
    assert listed.data == []


def test_another_customers_card_is_not_found(stripe_peer, db):
    alice, mallory = CustomerFactory(), CustomerFactory()
    _, saved = save_card(stripe_peer, alice)
    with pytest.raises(DomainError) as refused:
        saved_method_remove(customer=mallory, method_id=saved.pk, actor=ACTOR)
    assert refused.value.code == "not_found"
    assert saved_methods_of(alice).exists()
