"""An HTTP proxy in front of the local Stripe peer that lets Stripe do the work and then loses
the answer: it forwards the request (so the charge or refund is made), then answers 500 or
hangs past our timeout. It can also hold a request before forwarding it, for as long as a
test needs a charge in flight. A real HTTP peer between our stripe library and the peer:
nothing of ours is replaced."""

import http.client
import threading
import time
import urllib.parse
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class LostAnswers:
    """Which answers to lose: POSTs whose path starts with ``path`` get ``fault`` ("500" or
    "hang") for the next ``times`` matching requests; everything else passes through."""

    path: str = ""
    fault: str = ""
    times: int = 0
    hang_seconds: float = 5.0
    #: (method, path, what the client got) of every request, in order
    seen: list = field(default_factory=list)
    #: The next POST whose path starts with ``held`` waits for ``release`` before it is
    #: forwarded; ``arrived`` is set when it is there.
    held: str = ""
    arrived: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def lose(self, path: str, fault: str, *, times: int = 1) -> None:
        with self._lock:
            self.path, self.fault, self.times = path, fault, times

    def hold(self, path: str) -> None:
        with self._lock:
            self.held = path
            self.arrived.clear()
            self.release.clear()

    def _wait_if_held(self, method: str, path: str) -> None:
        with self._lock:
            if not (self.held and method == "POST" and path.startswith(self.held)):
                return
            self.held = ""
        self.arrived.set()
        self.release.wait(timeout=60)

    def _fault_for(self, method: str, path: str) -> str:
        with self._lock:
            if self.times and method == "POST" and path.startswith(self.path):
                self.times -= 1
                return self.fault
            return ""


@contextmanager
def lossy_stripe_proxy(upstream: str):
    """Yields (base_url, LostAnswers)."""
    target = urllib.parse.urlsplit(upstream)
    losses = LostAnswers()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _forward(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            losses._wait_if_held(self.command, self.path)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
            upstream_connection = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
            try:
                upstream_connection.request(self.command, self.path, body=body or None, headers=headers)
                answer = upstream_connection.getresponse()
                payload = answer.read()
            finally:
                upstream_connection.close()
            fault = losses._fault_for(self.command, self.path)
            losses.seen.append((self.command, self.path, fault or answer.status))
            if fault == "hang":
                time.sleep(losses.hang_seconds)  # the client gave up long ago
                self.close_connection = True
                return
            if fault == "500":
                payload = b'{"error": {"type": "api_error", "message": "An unknown error occurred"}}'
                status = 500
            else:
                status = answer.status
            self.send_response(status)
            for name, value in answer.getheaders():
                if name.lower() not in (
                    "content-length",
                    "connection",
                    "transfer-encoding",
                    "date",
                    "server",
                ):
                    if not (fault and name.lower() == "idempotent-replayed"):
                        self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_DELETE = _forward

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", losses
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
