"""The peer's Stripe.js stand-in (peers/stripe_js/v3.js, docs/stripe-peer.md) in a real headless Chromium.

A tiny shop on its own loopback port (another origin than the peer's, as Django's is) serves a payment
page whose script is templates/payments/pay.html's, a card-saving page and a return page; the customer
types test cards, clicks through 3-D Secure and the wallets' test pages, and each test asks the peer with
the stripe library what became of the intent. The browser tests skip when Playwright or Debian's
Chromium is missing; the HTTP checks of the peer's browser side run everywhere.
"""

import json
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.browser import chromium

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture says so and skips
    expect = None

PUBLISHABLE_KEY = "pk_test_stripe_peer"
DECLINE_MESSAGE = "Your card was declined."


@pytest.fixture(scope="module")
def shop(peer):
    with running_shop(peer.base_url) as base_url:
        yield base_url


@pytest.fixture(scope="module")
def browser():
    with chromium() as browser:
        yield browser


@pytest.fixture(scope="module")
def browser_context(browser):
    context = browser.new_context()
    context.set_default_timeout(10_000)
    yield context
    context.close()


@pytest.fixture
def page(browser_context):
    # A new tab per test; one context for the module (the shop keeps no cookies to isolate).
    page = browser_context.new_page()
    yield page
    page.close()


def new_intent(stripe_client, method_type="card", **params):
    params = {"amount": 1990, "currency": "eur", "payment_method_types": [method_type], **params}
    return stripe_client.v1.payment_intents.create(params=params)


def open_payment_page(page, shop, intent, method_type="card"):
    query = urllib.parse.urlencode({"secret": intent.client_secret, "method": method_type})
    page.goto(f"{shop}/pay?{query}")


def type_card(page, number, expiry="12 / 34", cvc="123"):
    page.get_by_label("Card number").press_sequentially(number)
    page.get_by_label("Expiry (MM / YY)").press_sequentially(expiry)
    page.get_by_label("CVC").press_sequentially(cvc)


def pay(page):
    page.get_by_role("button", name="Pay").click()


def expect_return_page(page, shop, status):
    page.wait_for_url(f"{shop}/return?**")
    expect(page.get_by_test_id("result")).to_have_text(status)


# -- Cards ------------------------------------------------------------------------------------------


def test_card_typed_in_the_element_pays_the_intent(page, shop, peer, stripe_client):
    intent = new_intent(stripe_client)
    open_payment_page(page, shop, intent)
    expect(page.get_by_test_id("stripe-peer-card")).to_contain_text("Stripe test peer")

    type_card(page, "4242424242424242")
    assert page.get_by_label("Card number").input_value() == "4242 4242 4242 4242"
    pay(page)

    expect_return_page(page, shop, "succeeded")  # the return page asked with retrievePaymentIntent
    paid = stripe_client.v1.payment_intents.retrieve(intent.id)
    assert (paid.status, paid.amount_received) == ("succeeded", 1990)
    card = stripe_client.v1.payment_methods.retrieve(paid.payment_method).card
    assert (card.last4, card.exp_month, card.exp_year) == ("4242", 12, 2034)


@pytest.mark.parametrize(
    ("number", "message", "decline_code"),
    [
        ("4000000000000002", DECLINE_MESSAGE, "generic_decline"),
        ("4000000000009995", "Your card has insufficient funds.", "insufficient_funds"),
    ],
)
def test_declined_card_shows_the_decline_and_leaves_the_intent_unpaid(
    page, shop, stripe_client, number, message, decline_code
):
    intent = new_intent(stripe_client)
    open_payment_page(page, shop, intent)
    type_card(page, number)
    pay(page)

    expect(page.get_by_role("alert")).to_have_text(message)
    expect(page.get_by_role("button", name="Pay")).to_be_enabled()
    assert page.url.startswith(f"{shop}/pay?")
    unpaid = stripe_client.v1.payment_intents.retrieve(intent.id)
    assert (unpaid.status, unpaid.amount_received) == ("requires_payment_method", 0)
    assert (unpaid.last_payment_error.code, unpaid.last_payment_error.decline_code) == (
        "card_declined",
        decline_code,
    )


def test_customer_pays_with_another_card_after_a_decline(page, shop, stripe_client):
    intent = new_intent(stripe_client)
    open_payment_page(page, shop, intent)
    type_card(page, "4000000000000002")
    pay(page)
    expect(page.get_by_role("alert")).to_have_text(DECLINE_MESSAGE)

    page.get_by_label("Card number").fill("")
    page.get_by_label("Card number").press_sequentially("4242424242424242")
    pay(page)

    expect_return_page(page, shop, "succeeded")
    assert stripe_client.v1.payment_intents.retrieve(intent.id).status == "succeeded"


def test_incomplete_card_is_refused_in_the_browser_without_calling_the_peer(page, shop, peer, stripe_client):
    intent = new_intent(stripe_client)
    open_payment_page(page, shop, intent)
    calls = []
    page.on("request", lambda request: calls.append(request.url) if "/v1/" in request.url else None)
    type_card(page, "42424242")
    pay(page)

    expect(page.get_by_role("alert")).to_have_text("Your card number is incomplete.")
    assert calls == []
    assert stripe_client.v1.payment_intents.retrieve(intent.id).status == "requires_payment_method"


@pytest.mark.parametrize("number", ["4000002500003155", "4000002760003184"])
def test_three_d_secure_card_pays_after_the_customer_completes(page, shop, stripe_client, number):
    intent = new_intent(stripe_client)
    open_payment_page(page, shop, intent)
    type_card(page, number)
    pay(page)

    dialog = page.get_by_role("dialog", name="3-D Secure authentication")
    expect(dialog).to_contain_text("Stripe test peer")
    assert stripe_client.v1.payment_intents.retrieve(intent.id).status == "requires_action"
    dialog.get_by_role("button", name="Complete").click()

    expect_return_page(page, shop, "succeeded")
    assert stripe_client.v1.payment_intents.retrieve(intent.id).amount_received == 1990


def test_failed_three_d_secure_shows_the_error_and_leaves_the_intent_unpaid(page, shop, stripe_client):
    intent = new_intent(stripe_client)
    open_payment_page(page, shop, intent)
    type_card(page, "4000002760003184")
    pay(page)
    page.get_by_role("dialog").get_by_role("button", name="Fail").click()

    expect(page.get_by_role("alert")).to_contain_text("failed authentication")
    expect(page.get_by_role("dialog")).to_have_count(0)
    unpaid = stripe_client.v1.payment_intents.retrieve(intent.id)
    assert (unpaid.status, unpaid.last_payment_error.code) == (
        "requires_payment_method",
        "payment_intent_authentication_failure",
    )


def test_card_declined_after_three_d_secure_shows_the_decline(page, shop, stripe_client):
    intent = new_intent(stripe_client)
    open_payment_page(page, shop, intent)
    type_card(page, "4000008260003178")
    pay(page)
    page.get_by_role("dialog").get_by_role("button", name="Complete").click()

    expect(page.get_by_role("alert")).to_have_text("Your card has insufficient funds.")
    assert stripe_client.v1.payment_intents.retrieve(intent.id).status == "requires_payment_method"


def test_card_is_saved_with_confirm_card_setup_after_three_d_secure(page, shop, stripe_client):
    customer = stripe_client.v1.customers.create(params={"name": "Alice Martin"})
    setup = stripe_client.v1.setup_intents.create(
        params={"customer": customer.id, "usage": "off_session", "payment_method_types": ["card"]}
    )
    page.goto(f"{shop}/save?" + urllib.parse.urlencode({"secret": setup.client_secret}))
    type_card(page, "4000002500003155")
    page.get_by_role("button", name="Save card").click()
    dialog = page.get_by_role("dialog", name="3-D Secure authentication")
    dialog.get_by_role("button", name="Complete").click()

    expect(page.get_by_test_id("result")).to_have_text("succeeded")
    saved = stripe_client.v1.setup_intents.retrieve(setup.id)
    assert saved.status == "succeeded"
    assert stripe_client.v1.payment_methods.retrieve(saved.payment_method).customer == customer.id


# -- Wallets ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("button", "redirect_status", "status"),
    [("Authorize", "succeeded", "succeeded"), ("Fail", "failed", "requires_payment_method")],
)
def test_alipay_goes_to_the_peer_page_and_back_to_the_return_url(
    page, shop, peer, stripe_client, button, redirect_status, status
):
    intent = new_intent(stripe_client, "alipay", currency="cny", amount=15500)
    open_payment_page(page, shop, intent, "alipay")
    pay(page)

    page.wait_for_url(f"{peer.base_url}/_test/payment_intents/{intent.id}/authenticate?**")
    expect(page.get_by_role("heading")).to_have_text("Alipay")
    expect(page.get_by_test_id("stripe-peer-amount")).to_have_text("155.00 CNY")
    page.get_by_role("button", name=button).click()

    expect_return_page(page, shop, status)
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(page.url).query)
    assert (query["payment_intent"], query["payment_intent_client_secret"], query["redirect_status"]) == (
        [intent.id],
        [intent.client_secret],
        [redirect_status],
    )
    assert stripe_client.v1.payment_intents.retrieve(intent.id).status == status


def test_wechat_pay_shows_the_qr_code_then_pays_when_authorized(page, shop, stripe_client):
    intent = new_intent(stripe_client, "wechat_pay", currency="cny", amount=15500)
    open_payment_page(page, shop, intent, "wechat_pay")
    pay(page)

    dialog = page.get_by_role("dialog", name="WeChat Pay")
    expect(dialog.get_by_test_id("stripe-peer-qr")).to_be_visible()
    assert dialog.get_by_test_id("stripe-peer-qr").evaluate("img => img.naturalWidth") == 198
    dialog.get_by_role("button", name="Authorize").click()

    expect_return_page(page, shop, "succeeded")
    assert stripe_client.v1.payment_intents.retrieve(intent.id).status == "succeeded"


def test_wechat_pay_failed_in_the_app_shows_the_error(page, shop, stripe_client):
    intent = new_intent(stripe_client, "wechat_pay", currency="cny", amount=15500)
    open_payment_page(page, shop, intent, "wechat_pay")
    pay(page)
    page.get_by_role("dialog", name="WeChat Pay").get_by_role("button", name="Fail").click()

    expect(page.get_by_role("alert")).to_contain_text("has failed or been canceled")
    unpaid = stripe_client.v1.payment_intents.retrieve(intent.id)
    assert (unpaid.status, unpaid.last_payment_error.code) == (
        "requires_payment_method",
        "payment_intent_payment_attempt_failed",
    )


# -- CORS and the publishable key, from the browser and over plain HTTP --------------------------------


def test_request_that_needs_a_preflight_reaches_the_peer_from_another_origin(page, shop, peer):
    page.goto(f"{shop}/blank")
    answer = page.evaluate(
        """async ([peer, key]) => {
            const response = await fetch(peer + "/v1/payment_methods", {
                method: "POST",
                headers: {"Content-Type": "application/json", "Stripe-Version": "2026-10-28.endive"},
                body: JSON.stringify({key, type: "card", card: {
                    number: "4242424242424242", exp_month: 12, exp_year: 2034, cvc: "123"}}),
            });
            return [response.status, await response.json()];
        }""",
        [peer.base_url, PUBLISHABLE_KEY],
    )
    assert (answer[0], answer[1]["object"], answer[1]["card"]["last4"]) == (200, "payment_method", "4242")


def test_peer_answers_a_cors_preflight(peer):
    request = urllib.request.Request(
        f"{peer.base_url}/v1/payment_intents/pi_123/confirm",
        method="OPTIONS",
        headers={
            "Origin": "http://127.0.0.1:8000",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 204
        assert response.headers["Access-Control-Allow-Origin"] == "http://127.0.0.1:8000"
        assert "POST" in response.headers["Access-Control-Allow-Methods"]
        assert "Content-Type" in response.headers["Access-Control-Allow-Headers"]


def test_peer_serves_its_own_stripe_js(peer):
    with urllib.request.urlopen(f"{peer.base_url}/js.stripe.com/v3/", timeout=10) as response:
        script = response.read().decode()
    assert response.headers["Content-Type"].startswith("application/javascript")
    assert "Stripe test peer" in script
    assert "confirmWechatPayPayment" in script


def browser_call(method, url, params):
    data = urllib.parse.urlencode(params).encode()
    if method == "GET":
        url, data = f"{url}?{data.decode()}", None
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data, method=method), timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_publishable_key_reads_an_intent_only_with_its_client_secret(peer, stripe_client):
    intent = new_intent(stripe_client)
    url = f"{peer.base_url}/v1/payment_intents/{intent.id}"
    right = {"key": PUBLISHABLE_KEY, "client_secret": intent.client_secret}

    assert browser_call("GET", url, right)[1]["status"] == "requires_payment_method"
    assert browser_call("GET", url, {**right, "client_secret": intent.id + "_secret_wrong"})[0] == 400
    assert browser_call("GET", url, {"key": PUBLISHABLE_KEY})[0] == 401
    assert browser_call("GET", url, {"client_secret": intent.client_secret})[0] == 401


def test_publishable_key_cannot_confirm_with_another_intents_secret(peer, stripe_client):
    intent, other = new_intent(stripe_client), new_intent(stripe_client)
    status, answer = browser_call(
        "POST",
        f"{peer.base_url}/v1/payment_intents/{intent.id}/confirm",
        {"key": PUBLISHABLE_KEY, "client_secret": other.client_secret, "payment_method": "pm_card_visa"},
    )
    assert (status, answer["error"]["param"]) == (400, "client_secret")
    assert stripe_client.v1.payment_intents.retrieve(intent.id).status == "requires_payment_method"


def test_next_action_page_needs_the_client_secret(peer, stripe_client):
    intent = new_intent(stripe_client, "alipay")
    stripe_client.v1.payment_intents.confirm(
        intent.id,
        params={"payment_method_data": {"type": "alipay"}, "return_url": "http://127.0.0.1/back"},
    )
    page_url = f"{peer.base_url}/_test/payment_intents/{intent.id}/authenticate"
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(page_url, timeout=10)
    assert refused.value.code == 401
    query = urllib.parse.urlencode({"client_secret": intent.client_secret})
    with urllib.request.urlopen(f"{page_url}?{query}", timeout=10) as response:
        assert (response.status, response.headers["Content-Type"]) == (200, "text/html; charset=utf-8")
    assert stripe_client.v1.payment_intents.retrieve(intent.id).status == "requires_action"


# -- The shop: pages on another origin that use the peer's Stripe.js as ours do ---------------------

PAY_SCRIPT = """
(function () {
  const read = (id) => JSON.parse(document.getElementById(id).textContent);
  const clientSecret = read("client-secret"), returnUrl = read("return-url");
  const methodType = read("method-type");
  const stripe = Stripe(read("publishable-key"));
  let card = null;
  if (methodType === "card") {
    card = stripe.elements().create("card");
    card.mount("#card-element");
  }
  const form = document.getElementById("payment-form"), button = document.getElementById("pay-button");
  const message = document.getElementById("payment-message");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    button.disabled = true;
    message.textContent = "";
    let result;
    if (methodType === "card") {
      result = await stripe.confirmCardPayment(clientSecret, {payment_method: {card: card}});
    } else if (methodType === "alipay") {
      result = await stripe.confirmAlipayPayment(clientSecret, {return_url: returnUrl});
    } else {
      result = await stripe.confirmWechatPayPayment(
        clientSecret, {payment_method_options: {wechat_pay: {client: "web"}}});
    }
    if (result && result.error) {
      message.textContent = result.error.message || "The payment did not go through.";
      button.disabled = false;
      return;
    }
    window.location.assign(returnUrl);
  });
})();
"""
SAVE_SCRIPT = """
(function () {
  const stripe = Stripe(JSON.parse(document.getElementById("publishable-key").textContent));
  const clientSecret = JSON.parse(document.getElementById("client-secret").textContent);
  const card = stripe.elements().create("card");
  card.mount("#card-element");
  document.getElementById("save-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const result = await stripe.confirmCardSetup(clientSecret, {payment_method: {card: card}});
    const outcome = result.error ? result.error.message : result.setupIntent.status;
    document.getElementById("result").textContent = outcome;
  });
})();
"""
RETURN_SCRIPT = """
(async function () {
  const query = new URLSearchParams(window.location.search);
  const stripe = Stripe(JSON.parse(document.getElementById("publishable-key").textContent));
  const result = await stripe.retrievePaymentIntent(query.get("secret"));
  const outcome = result.error ? result.error.message : result.paymentIntent.status;
  document.getElementById("result").textContent = outcome;
})();
"""


def _json_script(element_id, value):
    return f'<script id="{element_id}" type="application/json">{json.dumps(value)}</script>'


def _page(peer_url, body, script, **data):
    scripts = "".join(_json_script(element_id, value) for element_id, value in data.items())
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Shop</title></head><body>'
        f'{body}{scripts}<script src="{peer_url}/js.stripe.com/v3/"></script><script>{script}</script>'
        "</body></html>"
    )


@contextmanager
def running_shop(peer_url: str) -> Iterator[str]:
    """Pages on a free loopback port: /pay (pay.html's form and script), /save (confirmCardSetup),
    /return (retrievePaymentIntent), /blank."""

    class Shop(BaseHTTPRequestHandler):
        def do_GET(self):
            url = urllib.parse.urlsplit(self.path)
            query = dict(urllib.parse.parse_qsl(url.query))
            secret = query.get("secret", "")
            keys = {"publishable-key": PUBLISHABLE_KEY, "client-secret": secret}
            if url.path == "/pay":
                card = '<div id="card-element"></div>' if query["method"] == "card" else ""
                body = (
                    f'<form id="payment-form">{card}<button id="pay-button" type="submit">Pay 19.90 EUR'
                    '</button><p id="payment-message" role="alert"></p></form>'
                )
                return_url = f"{base_url}/return?" + urllib.parse.urlencode({"secret": secret})
                data = {**keys, "return-url": return_url, "method-type": query["method"]}
                self._answer(_page(peer_url, body, PAY_SCRIPT, **data))
            elif url.path == "/save":
                body = (
                    '<form id="save-form"><div id="card-element"></div>'
                    '<button type="submit">Save card</button></form><p data-testid="result" id="result"></p>'
                )
                self._answer(_page(peer_url, body, SAVE_SCRIPT, **keys))
            elif url.path == "/return":
                body = '<h1>Back in the shop</h1><p data-testid="result" id="result"></p>'
                self._answer(_page(peer_url, body, RETURN_SCRIPT, **keys))
            elif url.path == "/blank":
                self._answer("<!doctype html><title>Shop</title>")
            else:
                self.send_error(404)

        def _answer(self, page):
            body = page.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Shop)
    base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield base_url
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
