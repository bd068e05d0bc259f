"""Topping up a SIM by its ICCID in a real browser (Debian's Chromium driven by Playwright),
without an account, on a phone-sized screen, against our site served from a thread, with
Stripe.js and Stripe played by the local peer. The number and plans pages also work with
JavaScript off; only Stripe's payment fields need it. Each page is saved as a screenshot in
test-artifacts/screenshots/."""

import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.core import mail
from django.utils import timezone

from payments.models import Payment
from plans.models import Renewal
from tests.browser import site_with_stripe_peer
from tests.factories import CustomerFactory, SimLineFactory

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
PAYER = "friend.paying@example.net"


@pytest.fixture
def site(stripe_peer, settings):
    with site_with_stripe_peer(stripe_peer, settings) as url:
        yield url


@pytest.fixture
def sim(plan):
    owner = CustomerFactory(full_name="Hortense Secretowner", email="hortense.owner@example.org")
    return SimLineFactory(customer=owner, plan=plan, expires_at=timezone.now() + timedelta(days=2))


def shot(page, name):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def phone(chromium, *, javascript=True):
    context = chromium.new_context(
        locale="en-GB", viewport={"width": 390, "height": 844}, java_script_enabled=javascript
    )
    context.set_default_timeout(20_000)
    return context.new_page()


def spaced(iccid: str) -> str:
    return " ".join(iccid[i : i + 4] for i in range(0, len(iccid), 4))


def choose_plan_and_continue(page, site, sim, plan, name_prefix):
    page.goto(f"{site}/topup/")
    shot(page, f"{name_prefix}-01-number")
    page.get_by_label("SIM number (ICCID) or phone number").fill(spaced(sim.iccid))
    page.locator("#topup-continue").click()
    page.wait_for_selector("#masked-number")
    page.locator(f"input[name=plan][value='{plan.pk}']").check()
    page.get_by_label("Currency").select_option("EUR")
    page.get_by_label("Your e-mail, for the receipt").fill(PAYER)
    page.get_by_label("Card").check()
    shot(page, f"{name_prefix}-02-plans")
    masked, main = page.locator("#masked-number").inner_text(), page.locator("main").inner_text()
    page.locator("#topup-pay").click()
    page.wait_for_url("**/payments/pay/**")
    return masked, main


def receipt_mails_to(address: str):
    for _ in range(50):  # the receipt is sent by the server's thread after its commit
        sent = [m for m in mail.outbox if address in m.to]
        if sent:
            return sent
        time.sleep(0.1)
    return []


def test_someone_tops_up_a_sim_by_its_iccid_without_an_account(site, browser, sim, plan):
    def top_up(chromium):
        page = phone(chromium)
        masked, main = choose_plan_and_continue(page, site, sim, plan, "topup")
        page.get_by_test_id("card-number").fill("4242 4242 4242 4242")
        page.get_by_test_id("card-expiry").fill("12 / 34")
        page.get_by_test_id("card-cvc").fill("123")
        shot(page, "topup-03-payment")
        page.locator("#pay-button").click()
        page.wait_for_url("**/payments/return/**")
        shot(page, "topup-04-paid")
        return masked, main, page.locator("#payment-status").inner_text()

    masked, main, status = browser.run(top_up, timeout=120)
    assert masked == f"{sim.iccid[:4]} •••• •••• {sim.iccid[-4:]}"
    assert "Secretowner" not in main and sim.iccid not in main
    assert "payment is complete" in status
    renewal = Renewal.objects.get(line=sim, channel="public_topup")
    assert renewal.status in Renewal.GRANTED_STATUSES
    payment = Payment.objects.get(renewal=renewal, status="succeeded")
    assert [m.subject for m in receipt_mails_to(PAYER)] == [f"Your top-up receipt {payment.receipt_number}"]


def test_the_top_up_pages_work_with_javascript_off(site, browser, sim, plan):
    def top_up_without_javascript(chromium):
        page = phone(chromium, javascript=False)
        choose_plan_and_continue(page, site, sim, plan, "topup-nojs")
        return page.url

    assert "/payments/pay/" in browser.run(top_up_without_javascript)
    assert Payment.objects.get(renewal__line=sim, renewal__channel="public_topup").receipt_email == PAYER
