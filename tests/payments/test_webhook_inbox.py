"""Stripe's webhook endpoint: only events signed by Stripe for us, just now, are stored; each
is stored and processed once however often it is delivered; what we do not handle is logged
and ignored."""

import time

import pytest
from django.test import override_settings

from payments.models import Payment, ProviderEvent
from plans.models import Renewal
from tests import stripe_events
from tests.factories import pending_stripe_payment


@pytest.fixture
def pending_payment(line):
    return pending_stripe_payment(line, "pi_inbox_1")


def succeeded_event(payment, **kwargs):
    return stripe_events.event(
        "payment_intent.succeeded", stripe_events.intent(payment, status="succeeded"), **kwargs
    )


def test_a_signed_event_is_stored_processed_and_answered_2xx(
    client, pending_payment, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = stripe_events.post(client, succeeded_event(pending_payment))
    assert response.status_code == 200
    stored = ProviderEvent.objects.get()
    assert (
        stored.type == "payment_intent.succeeded" and stored.processed_at is not None and stored.error == ""
    )
    pending_payment.refresh_from_db()
    assert pending_payment.status == "succeeded"


def test_the_same_event_delivered_five_times_is_stored_and_applied_once(
    client, pending_payment, django_capture_on_commit_callbacks, mailoutbox
):
    payload = succeeded_event(pending_payment)
    with django_capture_on_commit_callbacks(execute=True):
        answers = [stripe_events.post(client, payload) for _ in range(5)]
    assert [a.status_code for a in answers] == [200] * 5
    assert [a.content for a in answers] == [b"stored"] + [b"duplicate"] * 4
    assert ProviderEvent.objects.count() == 1
    pending_payment.refresh_from_db()
    assert pending_payment.status == "succeeded"
    assert Renewal.objects.get(pk=pending_payment.renewal_id).status == "active"  # paid, then activated
    receipts = [m for m in mailoutbox if m.attachments]
    assert len(receipts) == 1 and receipts[0].attachments[0][0] == f"{pending_payment.receipt_number}.pdf"


@pytest.mark.parametrize(
    "signing",
    [
        pytest.param({"secret": "whsec_someone_else"}, id="another secret"),
        pytest.param({"age": 600}, id="ten minutes old"),
        pytest.param({"age": -600}, id="ten minutes in the future"),
    ],
)
def test_a_badly_signed_stale_or_future_event_is_refused_and_changes_nothing(
    client, pending_payment, signing
):
    # Timestamps from the moment the test runs, not when the suite was collected.
    if "age" in signing:
        signing = {"timestamp": int(time.time()) - signing["age"]}
    response = stripe_events.post(client, succeeded_event(pending_payment), **signing)
    assert response.status_code == 400
    assert ProviderEvent.objects.count() == 0
    pending_payment.refresh_from_db()
    assert pending_payment.status == "pending"


def test_a_request_without_signature_or_with_a_signed_non_event_is_refused(client, db):
    assert (
        client.post("/payments/stripe/webhook/", data=b"{}", content_type="application/json").status_code
        == 400
    )
    body = b"not json"
    response = client.post(
        "/payments/stripe/webhook/",
        data=body,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=stripe_events.sign(body),
    )
    assert response.status_code == 400
    assert ProviderEvent.objects.count() == 0


def test_the_endpoint_answers_only_post(client, db):
    assert client.get("/payments/stripe/webhook/").status_code == 405


def test_a_live_event_on_test_keys_is_logged_and_ignored(
    client, pending_payment, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = stripe_events.post(client, succeeded_event(pending_payment, livemode=True))
    assert response.status_code == 200
    stored = ProviderEvent.objects.get()
    assert stored.processed_at is not None and "live event on test keys" in stored.error
    pending_payment.refresh_from_db()
    assert pending_payment.status == "pending"


@override_settings(STRIPE_ACCOUNT_ID="acct_ours")
def test_an_event_of_another_account_is_logged_and_ignored(
    client, pending_payment, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        stripe_events.post(client, succeeded_event(pending_payment, account="acct_theirs"))
    assert "another account" in ProviderEvent.objects.get().error
    pending_payment.refresh_from_db()
    assert pending_payment.status == "pending"


def test_an_event_type_we_do_not_handle_is_logged_and_ignored(client, db, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = stripe_events.post(
            client, stripe_events.event("invoice.paid", {"id": "in_1", "object": "invoice"})
        )
    assert response.status_code == 200
    assert "do not handle" in ProviderEvent.objects.get().error


def test_an_intent_that_is_not_ours_is_processed_without_effect(
    client, db, django_capture_on_commit_callbacks
):
    foreign = {
        "id": "pi_not_ours",
        "object": "payment_intent",
        "amount": 100,
        "currency": "eur",
        "status": "succeeded",
        "metadata": {},
    }
    with django_capture_on_commit_callbacks(execute=True):
        stripe_events.post(client, stripe_events.event("payment_intent.succeeded", foreign))
    assert ProviderEvent.objects.get().processed_at is not None
    assert not Payment.objects.filter(status="succeeded").exists()


def test_a_request_with_a_nonsense_length_is_refused_not_a_500(client, db):
    response = client.post(
        "/payments/stripe/webhook/", data=b"{}", content_type="application/json", CONTENT_LENGTH="abc"
    )
    assert response.status_code == 400
