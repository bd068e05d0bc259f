"""The customer's payment page in a real browser: Chromium loads our page from a live Django
server, Stripe.js (the local peer's stand-in) sends the card straight to the peer, the peer's
signed webhooks come back to our endpoint, and the return page shows the result."""

from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.utils import timezone

from payments.checkout import payment_start
from payments.links import pay_url
from payments.models import Payment
from plans.models import Renewal
from plans.renewals import renewal_request
from reseller.actors import Actor
from tests.browser import site_with_stripe_peer
from tests.factories import SimLineFactory

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)
ACTOR = Actor.system("tests")


@pytest.fixture
def shop(stripe_peer, settings):
    with site_with_stripe_peer(stripe_peer, settings) as url:
        yield SimpleNamespace(url=url)


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


def open_page(browser, url):
    """A new tab in French, on ``url``; returns the page (used in the browser's thread only)."""

    def step(chromium):
        context = chromium.new_context(locale="fr-FR")
        context.set_default_timeout(15_000)
        page = context.new_page()
        page.goto(url)
        return page

    return browser.run(step)


def test_a_customer_pays_by_card_and_sees_the_receipt_number(shop, plan, browser):
    payment, url = payment_link(plan, shop)
    page = open_page(browser, url)
    amount = browser.run(lambda _: page.locator("#amount").inner_text())
    assert "19,90" in amount  # French number format

    def pay(_):
        pay_with(page, "4242 4242 4242 4242")
        page.wait_for_url("**/payments/return/**")
        return page.locator("body").inner_text(), page.locator("#receipt-link").get_attribute("href")

    body, receipt_link = browser.run(pay)
    payment.refresh_from_db()
    assert payment.status == "succeeded"
    assert payment.receipt_number in body and receipt_link
    assert Renewal.objects.get(pk=payment.renewal_id).status in Renewal.GRANTED_STATUSES


def test_a_declined_card_shows_why_and_the_customer_can_try_another(shop, plan, browser):
    payment, url = payment_link(plan, shop)
    page = open_page(browser, url)

    def pay_declined(_):
        pay_with(page, "4000 0000 0000 9995")  # insufficient funds
        message = page.locator("#payment-message")
        message.wait_for(state="visible")
        return message.inner_text()

    assert browser.run(pay_declined)
    assert Payment.objects.get(pk=payment.pk).status != "succeeded"

    def pay_again(_):
        pay_with(page, "4242 4242 4242 4242")
        page.wait_for_url("**/payments/return/**")

    browser.run(pay_again)
    assert Payment.objects.get(pk=payment.pk).status == "succeeded"


def test_3d_secure_completes_in_the_stripe_dialog(shop, plan, browser):
    payment, url = payment_link(plan, shop)
    page = open_page(browser, url)

    def pay(_):
        pay_with(page, "4000 0025 0000 3155")
        page.get_by_role("button", name="Complete").click()
        page.wait_for_url("**/payments/return/**")

    browser.run(pay)
    assert Payment.objects.get(pk=payment.pk).status == "succeeded"
