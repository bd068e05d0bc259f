"""The customer's self-service in a real browser (Debian's Chromium driven by Playwright),
against our site served from a thread, with Stripe.js and Stripe played by the local peer:
sign in by an e-mailed code, renew a line paying with a test card, watch it become active,
save a card and turn auto-renew on and off, download a receipt, read the pages in Chinese and
French. Each page is saved as a screenshot in test-artifacts/screenshots/."""

import re
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.core import mail
from django.utils import timezone, translation
from django.utils.translation import gettext

from accounts.models import SimLine
from plans.models import Renewal
from tests.auth.second_factor import verified_email
from tests.browser import site_with_stripe_peer
from tests.factories import CustomerFactory, RenewalFactory, SimLineFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


@pytest.fixture
def site(stripe_peer, settings, compiled_catalogues):
    with site_with_stripe_peer(stripe_peer, settings) as url:
        yield url


@pytest.fixture
def customer_line(plan):
    user = UserFactory(username="li", email="li.wei@example.com")
    verified_email(user)
    customer = CustomerFactory(user=user, full_name="Li Wei", email="li.wei@example.com", language="en")
    line = SimLineFactory(
        customer=customer, plan=plan, esim=True, expires_at=timezone.now() + timedelta(days=3)
    )
    RenewalFactory(
        line=line, plan=plan, period_start=timezone.now() - timedelta(days=27), period_end=line.expires_at
    )
    return line


def shot(page, name):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def fill_card(page):
    page.get_by_test_id("card-number").fill("4242 4242 4242 4242")
    page.get_by_test_id("card-expiry").fill("12 / 34")
    page.get_by_test_id("card-cvc").fill("123")


def code_sent_to(address: str) -> str:
    for _ in range(50):
        sent = [m for m in mail.outbox if address in m.to]
        if sent:
            codes = re.findall(r"^\s*([A-Z0-9]{3,}(?:-[A-Z0-9]+)*)\s*$", sent[-1].body, re.MULTILINE)
            if codes:
                return codes[0]
        time.sleep(0.1)
    raise AssertionError(f"no code e-mailed to {address}")


def test_a_customer_renews_pays_follows_activation_sets_auto_renew_and_keeps_the_receipt(
    site, browser, customer_line, plan
):
    line = customer_line

    def sign_in(chromium):
        context = chromium.new_context(locale="en-GB", viewport={"width": 390, "height": 844})  # a phone
        context.set_default_timeout(20_000)
        page = context.new_page()
        page.goto(f"{site}/account/login/code/")
        shot(page, "01-sign-in-by-code")
        page.get_by_label(re.compile("e-?mail", re.I)).fill("li.wei@example.com")
        page.locator("main form button[type=submit], main form input[type=submit]").first.click()
        page.wait_for_url("**/login/code/confirm/**")
        return page

    page = browser.run(sign_in)
    code = code_sent_to("li.wei@example.com")

    def enter_code(_):
        page.get_by_label(re.compile("code", re.I)).fill(code)
        page.locator("main form button[type=submit]").first.click()
        page.wait_for_url(f"{site}/account/")
        shot(page, "02-lines-overview")
        return page.locator("main").inner_text()

    overview = browser.run(enter_code)
    assert line.msisdn in overview and "days left" in overview

    def renew_and_pay(_):
        page.get_by_role("link", name="Renew").first.click()
        page.wait_for_url("**/renew/")
        page.locator("input[name=plan]").first.check()
        page.locator("input[name=method][value=card]").check()
        shot(page, "03-renew")
        page.locator("#renew-button").click()
        page.wait_for_url("**/payments/pay/**")
        fill_card(page)
        shot(page, "04-payment")
        page.locator("#pay-button").click()
        page.wait_for_url("**/payments/return/**")
        shot(page, "05-payment-done")
        page.locator("#follow-link").click()
        page.wait_for_url("**/renewals/**")
        # The status page refreshes itself; no one reloads it.
        page.wait_for_function("document.getElementById('renewal-status').innerText.includes('Active')")
        shot(page, "06-renewal-active")
        return page.locator("#renewal-status").inner_text()

    assert "Active" in browser.run(renew_and_pay, timeout=120)
    renewal = Renewal.objects.get(line=line, channel="self_service")
    assert renewal.status == Renewal.Status.ACTIVE
    assert renewal.payments.get(status="succeeded").receipt_number

    def save_card_and_turn_auto_renew_on(_):
        page.goto(f"{site}/account/lines/{line.pk}/")
        shot(page, "07-line-page")
        page.get_by_role("link", name="Save a card for auto-renew").click()
        page.wait_for_url("**/cards/add/**")
        fill_card(page)
        shot(page, "08-save-card")
        page.locator("#save-button").click()
        page.wait_for_url(f"**/account/lines/{line.pk}/")
        page.locator("#id_enabled").check()
        page.locator(
            "#auto-renew ~ form button[type=submit], form[action$='auto-renew/'] button"
        ).first.click()
        page.wait_for_load_state()
        shot(page, "09-auto-renew-on")
        return page.locator("main").inner_text()

    assert "Auto-renew is on." in browser.run(save_card_and_turn_auto_renew_on, timeout=90)
    assert SimLine.objects.get(pk=line.pk).auto_renew is True

    def turn_auto_renew_off(_):
        page.locator("#id_enabled").uncheck()
        page.locator("form[action$='auto-renew/'] button").first.click()
        page.wait_for_load_state()
        return page.locator("main").inner_text()

    assert "Auto-renew is off." in browser.run(turn_auto_renew_off)
    assert SimLine.objects.get(pk=line.pk).auto_renew is False

    def download_receipt(_):
        page.get_by_role("link", name="Receipts").click()
        page.wait_for_url("**/account/receipts/")
        shot(page, "10-receipts")
        with page.expect_download() as download:
            page.locator("main table a").first.click()
        return Path(download.value.path()).read_bytes(), download.value.suggested_filename

    pdf, filename = browser.run(download_receipt)
    assert (
        pdf.startswith(b"%PDF")
        and filename == f"{renewal.payments.get(status='succeeded').receipt_number}.pdf"
    )

    expected = {}
    for language in ("zh-hans", "fr"):
        with translation.override(language):
            expected[language] = gettext("Your lines")
    assert expected["zh-hans"] != "Your lines" and expected["fr"] != "Your lines"

    def switch_language(code, name):
        def step(_):
            page.goto(f"{site}/account/")
            page.locator("#language-choice").select_option(code)
            page.locator("form.language-switch button").click()
            page.wait_for_load_state()
            shot(page, name)
            return page.locator("html").get_attribute("lang"), page.locator("main h1").inner_text()

        return step

    assert browser.run(switch_language("zh-hans", "11-lines-in-chinese")) == ("zh-hans", expected["zh-hans"])
    assert browser.run(switch_language("fr", "12-lines-in-french")) == ("fr", expected["fr"])
    assert SimLine.objects.get(pk=line.pk).customer.language == "fr"  # their e-mails follow
