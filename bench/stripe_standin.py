"""A payment-provider stand-in for the benchmarks: the few Stripe HTTP calls an off-session
renewal makes (create a customer, create and confirm a PaymentIntent, read or cancel one),
answered after a fixed latency, so a benchmark measures our code and not a peer's.

It keeps nothing but the intents it created (for a later GET) and answers every charge as
succeeded. Run: ``python -m bench.stripe_standin --port 8431 --latency-ms 300``; it prints
``ready <port>`` once listening. Not a test double of Stripe's rules: ``tests/stripe_peer.py``
is that."""

import argparse
import itertools
import json
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_ids = itertools.count(1)
# Ids unique across runs: our payments keep the intent ids of earlier runs (a unique column).
_RUN = uuid.uuid4().hex[:10]
_intents: dict[str, dict] = {}
_by_key: dict[str, dict] = {}
_lock = threading.Lock()


def _form(body: bytes) -> dict:
    """Stripe's form encoding (``metadata[payment_id]=1``) as a flat dict: enough for the
    fields we read back."""
    return {key: values[-1] for key, values in urllib.parse.parse_qs(body.decode()).items()}


def _metadata(fields: dict) -> dict:
    return {key[len("metadata[") : -1]: value for key, value in fields.items() if key.startswith("metadata[")}


def _intent(fields: dict) -> dict:
    number = next(_ids)
    now = int(time.time())
    confirmed = fields.get("confirm") == "true"
    return {
        "id": f"pi_bench_{_RUN}_{number}",
        "object": "payment_intent",
        "amount": int(fields.get("amount", "0")),
        "currency": fields.get("currency", "eur"),
        "customer": fields.get("customer"),
        "payment_method": fields.get("payment_method"),
        "status": "succeeded" if confirmed else "requires_payment_method",
        "client_secret": f"pi_bench_{_RUN}_{number}_secret_bench",
        "created": now,
        "livemode": False,
        "metadata": _metadata(fields),
        "last_payment_error": None,
        "latest_charge": f"ch_bench_{_RUN}_{number}" if confirmed else None,
    }


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: stripe-python reuses its connections
    # The headers and the body go out in two writes: with Nagle's algorithm on, the second
    # waits for the client's delayed ACK (up to 40 ms), which the "0 ms" figures then counted
    # as our code's time.
    disable_nagle_algorithm = True
    latency = 0.0

    def log_message(self, format, *args):  # one line per call would cost more than our code
        pass

    def _answer(self, status: int, payload: dict) -> None:
        time.sleep(self.latency)
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Request-Id", f"req_bench_{next(_ids)}")
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        fields = _form(body)
        path = urllib.parse.urlsplit(self.path).path
        key = self.headers.get("Idempotency-Key", "")
        with _lock:
            if key and key in _by_key:  # a retried call gets the first answer, as at Stripe
                answer = _by_key[key]
            elif path == "/v1/customers":
                answer = {
                    "id": f"cus_bench_{_RUN}_{next(_ids)}",
                    "object": "customer",
                    "email": fields.get("email"),
                }
            elif path == "/v1/payment_intents":
                answer = _intent(fields)
                _intents[answer["id"]] = answer
            elif path.startswith("/v1/payment_intents/") and path.endswith("/cancel"):
                intent = _intents.get(path.split("/")[3])
                answer = dict(intent or {}, status="canceled") if intent else None
            else:
                answer = None
            if answer is not None and key:
                _by_key[key] = answer
        if answer is None:
            self._answer(404, {"error": {"type": "invalid_request_error", "message": f"no {path}"}})
        else:
            self._answer(200, answer)

    def do_GET(self):
        path = urllib.parse.urlsplit(self.path).path
        intent = _intents.get(path.split("/")[3]) if path.startswith("/v1/payment_intents/") else None
        if intent is None:
            self._answer(404, {"error": {"type": "invalid_request_error", "message": f"no {path}"}})
        else:
            self._answer(200, intent)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    args = parser.parse_args()
    Handler.latency = args.latency_ms / 1000
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.request_queue_size = 512
    print(f"ready {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
