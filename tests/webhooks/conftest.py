"""A partner's server for webhook tests: a real HTTP server on 127.0.0.1, in a thread, that
answers with the statuses a test scripts and keeps every request it got."""

import http.server
import threading
from dataclasses import dataclass, field

import pytest

from reseller.actors import Actor
from tests.api.conftest import api_a, api_b  # noqa: F401 — the API's partner clients, as fixtures here
from webhooks.endpoints import webhook_endpoint_create
from webhooks.models import EventType


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class PartnerServer:
    url: str
    #: Statuses to answer, in turn; once used up, 200.
    statuses: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    #: Set to make every answer wait (the concurrency tests hold the first send open).
    gate: threading.Event | None = None


@pytest.fixture
def partner_server():
    state = PartnerServer(url="")
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with lock:
                state.received.append(Received(dict(self.headers.items()), body))
                status = state.statuses.pop(0) if state.statuses else 200
            if state.gate is not None:
                state.gate.wait(timeout=10)
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"ok" if status < 300 else b"partner server error")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/reseller"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def an_endpoint(partner, url: str, event_types=tuple(EventType.values)):
    return webhook_endpoint_create(
        partner=partner, url=url, event_types=list(event_types), actor=Actor.system("tests")
    )


@pytest.fixture
def endpoint_a(partner_a, partner_server):
    """Partner A's endpoint (every event) on the partner server, and its secret."""
    return an_endpoint(partner_a, partner_server.url)
