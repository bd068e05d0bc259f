"""Test support for the local Stripe peer (scripts/stripe-peer, docs/stripe-peer.md): start and stop it,
point its webhooks somewhere, and act on Stripe's side of a payment: the customer paying, saving a card
or authenticating, the bank failing a refund or deciding a dispute.

Our own code talks to the peer with the real stripe library, as it talks to Stripe; nothing here stands
in for it. A session fixture in a conftest is one line around ``running_stripe_peer()``::

    @pytest.fixture(scope="session")
    def stripe_peer():
        with running_stripe_peer() as peer:
            yield peer
"""

import json
import os
import re
import signal
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import stripe

ROOT = Path(__file__).resolve().parent.parent
#: any key that starts with sk_ is accepted; the peer checks none
SECRET_KEY = "sk_test_stripe_peer"
#: the API version stripe==16.1.0 is generated for, sent explicitly on every request
API_VERSION = "2026-10-28.endive"
#: where the customer comes back after a redirect (3-D Secure with return_url, Alipay); nothing listens
RETURN_URL = "http://127.0.0.1/stripe-return"
_READY = re.compile(r"stripe-peer ready on (http://127\.0\.0\.1:\d+)")


class PeerError(Exception):
    """The peer refused a /_test/ or /_config/ call: a mistake in the test, not a payment outcome."""

    def __init__(self, status: int, body: dict):
        super().__init__(f"{status}: {body.get('error', body)}")
        self.status = status
        self.body = body


@dataclass(frozen=True)
class StripePeer:
    base_url: str
    log_path: Path
    secret_key: str = SECRET_KEY
    api_version: str = API_VERSION

    def client(self, **options) -> stripe.StripeClient:
        """A StripeClient aimed at the peer, as our settings would build one."""
        return stripe.StripeClient(
            self.secret_key,
            base_addresses={"api": self.base_url, "files": self.base_url, "connect": self.base_url},
            stripe_version=self.api_version,
            **options,
        )


@contextmanager
def running_stripe_peer(
    *, webhook_delay: float = 0.05, startup_timeout: float = 300.0
) -> Iterator[StripePeer]:
    """Start the peer on a free loopback port and stop it afterwards, whatever happens.

    The first start creates .venv-peers and installs requirements-peers.txt (hence the long timeout);
    later starts take about a second. The peer also stops by itself if this process dies."""
    log_file = tempfile.NamedTemporaryFile(prefix="stripe-peer-", suffix=".log", delete=False)
    log_path = Path(log_file.name)
    process = subprocess.Popen(
        [
            ROOT / "scripts" / "stripe-peer",
            "--port",
            "0",
            "--webhook-delay",
            str(webhook_delay),
            "--watch-pid",
            str(os.getpid()),
        ],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: stopping it reaches the installer too
    )
    try:
        base_url = _wait_until_ready(process, log_path, startup_timeout)
        yield StripePeer(base_url=base_url, log_path=log_path)
    finally:
        _stop(process)
        log_file.close()
        log_path.unlink(missing_ok=True)


def _wait_until_ready(process: subprocess.Popen, log_path: Path, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready = _READY.search(log_path.read_text(errors="replace"))
        if ready:
            return ready.group(1)
        if process.poll() is not None:
            raise RuntimeError(f"the Stripe peer exited ({process.returncode}):\n{_tail(log_path)}")
        time.sleep(0.05)
    raise RuntimeError(f"the Stripe peer was not ready after {timeout:.0f} s:\n{_tail(log_path)}")


def _tail(log_path: Path, lines: int = 30) -> str:
    return "\n".join(log_path.read_text(errors="replace").splitlines()[-lines:])


def _stop(process: subprocess.Popen) -> None:
    for sig, grace in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            pass
        try:
            process.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue


# -- Calls to the peer's own routes ------------------------------------------------------------------


def _form(params: dict, prefix: str = "") -> list[tuple[str, str]]:
    """Stripe's form encoding: a[b]=c for objects, a[0]=c for lists, true/false for booleans."""
    pairs = []
    for key, value in params.items():
        name = f"{prefix}[{key}]" if prefix else str(key)
        if isinstance(value, dict):
            pairs += _form(value, name)
        elif isinstance(value, list | tuple):
            pairs += _form(dict(enumerate(value)), name)
        elif isinstance(value, bool):
            pairs.append((name, "true" if value else "false"))
        elif value is not None:
            pairs.append((name, str(value)))
    return pairs


def _call(base_url: str, method: str, path: str, params: dict | None = None, *, accept=(200,)) -> dict:
    data = urllib.parse.urlencode(_form(params or {})).encode() if method == "POST" else None
    request = urllib.request.Request(
        base_url + path, data=data, method=method, headers={"Authorization": f"Bearer {SECRET_KEY}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, body = error.code, error.read()
    answer = json.loads(body or b"{}")
    if status not in accept:
        raise PeerError(status, answer)
    return answer


def _intent_after_confirm(answer: dict, kind: str) -> dict:
    # A decline answers 402 with the intent inside the error, as Stripe.js returns {error} on a decline.
    return answer["error"][kind] if "error" in answer else answer


def configure_webhook(base_url: str, url: str, secret: str, *, events=None, name: str = "backoffice") -> None:
    """Send every event (or only ``events``) to ``url``, signed with ``secret`` as Stripe signs them."""
    _call(base_url, "POST", f"/_config/webhooks/{name}", {"url": url, "secret": secret, "events": events})


def remove_webhook(base_url: str, *, name: str = "backoffice") -> None:
    _call(base_url, "DELETE", f"/_config/webhooks/{name}")


def reset(base_url: str) -> None:
    """Forget every customer, payment, refund and event, and drop pending deliveries; webhooks stay."""
    _call(base_url, "POST", "/_config/reset")


def card_payment_method(base_url: str, number: str, *, exp_month: int = 12, exp_year: int = 2034) -> str:
    """The customer types a card number into Stripe's fields: a new card PaymentMethod's id."""
    card = {"number": number, "exp_month": exp_month, "exp_year": exp_year, "cvc": "123"}
    return _call(base_url, "POST", "/v1/payment_methods", {"type": "card", "card": card})["id"]


def customer_pays(
    base_url: str,
    payment_intent_id: str,
    payment_method: str = "pm_card_visa",
    *,
    return_url: str | None = None,
) -> dict:
    """What Stripe.js confirmCardPayment does: confirm the intent with a card (a pm_card_* test token such
    as pm_card_chargeDeclinedInsufficientFunds, or a PaymentMethod id). Returns the PaymentIntent:
    succeeded, requires_action (3-D Secure cards) or requires_payment_method with last_payment_error."""
    params = {"payment_method": payment_method, "return_url": return_url}
    answer = _call(
        base_url, "POST", f"/v1/payment_intents/{payment_intent_id}/confirm", params, accept=(200, 402)
    )
    return _intent_after_confirm(answer, "payment_intent")


def customer_pays_with_wallet(
    base_url: str, payment_intent_id: str, wallet: str = "alipay", *, return_url: str = RETURN_URL
) -> dict:
    """The customer chooses Alipay or WeChat Pay: the intent waits in requires_action (a redirect or a QR
    code) until ``customer_authenticates``."""
    params = {
        "payment_method_data": {"type": wallet},
        "return_url": return_url,
        "payment_method_options": {"wechat_pay": {"client": "web"}} if wallet == "wechat_pay" else None,
    }
    return _call(base_url, "POST", f"/v1/payment_intents/{payment_intent_id}/confirm", params)


def customer_authenticates(base_url: str, payment_intent_id: str, *, success: bool = True) -> dict:
    """The customer completes (or fails) 3-D Secure, or approves (or declines) in the Alipay / WeChat Pay
    app. Returns the PaymentIntent: succeeded, or requires_payment_method with last_payment_error (also
    when a 3-D Secure card is declined after authentication)."""
    answer = _call(
        base_url,
        "POST",
        f"/_test/payment_intents/{payment_intent_id}/authenticate",
        {"success": success},
        accept=(200, 402),
    )
    return _intent_after_confirm(answer, "payment_intent")


def customer_saves_card(base_url: str, setup_intent_id: str, payment_method: str = "pm_card_visa") -> dict:
    """What Stripe.js confirmCardSetup does. Returns the SetupIntent: succeeded (the card is attached to
    the intent's customer), requires_action, or requires_payment_method with last_setup_error."""
    answer = _call(
        base_url,
        "POST",
        f"/v1/setup_intents/{setup_intent_id}/confirm",
        {"payment_method": payment_method},
        accept=(200, 402),
    )
    return _intent_after_confirm(answer, "setup_intent")


def customer_authenticates_setup(base_url: str, setup_intent_id: str, *, success: bool = True) -> dict:
    return _call(
        base_url, "POST", f"/_test/setup_intents/{setup_intent_id}/authenticate", {"success": success}
    )


def bank_declines_card(base_url: str, payment_method_id: str, decline_code: str) -> dict:
    """The bank starts declining a saved card with ``decline_code`` ("none": accepts it again)."""
    return _call(
        base_url,
        "POST",
        f"/_test/payment_methods/{payment_method_id}/bank_declines",
        {"decline_code": decline_code},
    )


def bank_fails_refund(
    base_url: str, refund_id: str, *, failure_reason: str = "expired_or_canceled_card"
) -> dict:
    """The card's bank sends a refund back: refund.updated, refund.failed and charge.refund.updated."""
    return _call(base_url, "POST", f"/_test/refunds/{refund_id}/fail", {"failure_reason": failure_reason})


def cardholder_disputes(
    base_url: str,
    charge_id: str,
    *,
    reason: str = "fraudulent",
    amount: int | None = None,
    due_in_days: int = 7,
) -> dict:
    """The cardholder disputes a charge: charge.dispute.created and charge.dispute.funds_withdrawn."""
    params = {"reason": reason, "amount": amount, "due_in_days": due_in_days}
    return _call(base_url, "POST", f"/_test/charges/{charge_id}/dispute", params)


def bank_decides_dispute(base_url: str, dispute_id: str, *, status: str) -> dict:
    """``status`` is won or lost: charge.dispute.closed (and charge.dispute.funds_reinstated when won)."""
    return _call(base_url, "POST", f"/_test/disputes/{dispute_id}/close", {"status": status})


def resend_event(base_url: str, event_id: str) -> dict:
    """Stripe delivers an event again, as its retries do."""
    return _call(base_url, "POST", f"/_test/events/{event_id}/resend")


# -- A webhook endpoint for tests that look at what the peer sends -----------------------------------


@dataclass(frozen=True)
class Delivery:
    headers: dict
    payload: bytes

    @property
    def event(self) -> dict:
        return json.loads(self.payload)


@dataclass
class WebhookInbox:
    url: str
    deliveries: list[Delivery] = field(default_factory=list)
    _arrived: threading.Condition = field(default_factory=threading.Condition)

    def wait_for(
        self, event_type: str, *, where: Callable[[dict], bool] = lambda obj: True, timeout: float = 5.0
    ) -> Delivery:
        """The first delivery of ``event_type`` whose data.object satisfies ``where``."""

        def found():
            for delivery in self.deliveries:
                event = delivery.event
                if event["type"] == event_type and where(event["data"]["object"]):
                    return delivery
            return None

        with self._arrived:
            if not self._arrived.wait_for(found, timeout=timeout):
                seen = [d.event["type"] for d in self.deliveries]
                raise AssertionError(f"no {event_type} delivered within {timeout} s; got {seen}")
            return found()

    def _receive(self, delivery: Delivery) -> None:
        with self._arrived:
            self.deliveries.append(delivery)
            self._arrived.notify_all()


@contextmanager
def webhook_inbox() -> Iterator[WebhookInbox]:
    """An HTTP endpoint on a free loopback port that answers 200 and keeps every delivery."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            payload = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            inbox._receive(Delivery(headers=dict(self.headers.items()), payload=payload))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    inbox = WebhookInbox(url=f"http://127.0.0.1:{server.server_address[1]}/stripe/webhook")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield inbox
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
