"""The customer's payment page in a real browser: Chromium loads our page from a live Django
server, Stripe.js (the local peer's stand-in) sends the card straight to the peer, the peer's
signed webhooks come back to our endpoint, and the return page shows the result."""

import os
from datetime import timedelta

import pytest
from django.utils import timezone

from payments.checkout import payment_start
from payments.links import pay_url
from payments.models import Payment
from plans.models import Renewal
from plans.renewals import renewal_request
from reseller.actors import Actor
from tests.browser import chromium
from tests.factories import SimLineFactory
from tests.stripe_peer import configure_webhook, remove_webhook

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)
ACTOR = Actor.system("tests")


@pytest.fixture(scope="module")
def browser():
    # Playwright's sync API keeps an event loop in this thread; the ORM calls the test makes
    # between two page actions are still plain synchronous calls.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with chromium() as browser:
        yield browser


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="fr-FR")
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def shop(stripe_peer, live_server, settings):
    """Our live server with Stripe.js from the peer, and the peer's webhooks sent to it."""
    settings.STRIPE_JS_URL = f"{stripe_peer.base_url}/js.stripe.com/v3/"
    settings.STRIPE_PUBLISHABLE_KEY = "pk_test_stripe_peer"
    configure_webhook(
        stripe_peer.base_url, f"{live_server.url}/payments/stripe/webhook/", settings.STRIPE_WEBHOOK_SECRET
    )
    yield live_server
    remove_webhook(stripe_peer.base_url)


def payment_link(plan, shop, language="fr"):
    line = SimLineFactory(
        plan=plan, expires_at=timezone.now() + timedelta(days=3), customer__language=language
    )
    renewal = renewal_request(
        line=line, plan=plan, currency="EUR", channel="self_service", idempotency_key="browser", actor=ACTOR
    )
    payment = payment_start(renewal=renewal, method="card", actor=ACTOR).payment
    return payment, f"{shop.url}{pay_url(payment)}"


def pay_with(page, card):
    page.get_by_test_id("card-number").fill(card)
    page.get_by_test_id("card-expiry").fill("12 / 34")
    page.get_by_test_id("card-cvc").fill("123")
    page.locator("#pay-button").click()


def test_a_customer_pays_by_card_and_sees_the_receipt_number(shop, plan, page):
    payment, url = payment_link(plan, shop)
    page.goto(url)
    assert "19,90" in page.locator("#amount").inner_text()  # French number format
    pay_with(page, "4242 4242 4242 4242")
    page.wait_for_url("**/payments/return/**")
    payment.refresh_from_db()
    assert payment.status == "succeeded"
    assert payment.receipt_number in page.locator("body").inner_text()
    assert Renewal.objects.get(pk=payment.renewal_id).status in Renewal.GRANTED_STATUSES
    assert page.locator("#receipt-link").get_attribute("href")


def test_a_declined_card_shows_why_and_the_customer_can_try_another(shop, plan, page):
    payment, url = payment_link(plan, shop)
    page.goto(url)
    pay_with(page, "4000 0000 0000 9995")  # insufficient funds
    message = page.locator("#payment-message")
    message.wait_for(state="visible")
    assert message.inner_text()
    assert Payment.objects.get(pk=payment.pk).status != "succeeded"
    pay_with(page, "4242 4242 4242 4242")
    page.wait_for_url("**/payments/return/**")
    assert Payment.objects.get(pk=payment.pk).status == "succeeded"


def test_3d_secure_completes_in_the_stripe_dialog(shop, plan, page):
    payment, url = payment_link(plan, shop)
    page.goto(url)
    pay_with(page, "4000 0025 0000 3155")
    page.get_by_role("button", name="Complete").click()
    page.wait_for_url("**/payments/return/**")
    assert Payment.objects.get(pk=payment.pk).status == "succeeded"
