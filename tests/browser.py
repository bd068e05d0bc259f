"""A real headless Chromium for tests, driven by Playwright (Debian's /usr/bin/chromium; no
browser download). Tests that need it skip, saying why, where either is missing; CI installs
both (.ci/run)."""

import queue
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.db import connection

try:
    from playwright.sync_api import sync_playwright
except ImportError:  # chromium() says so and skips
    sync_playwright = None

CHROMIUM = Path("/usr/bin/chromium")
#: as root, on a machine whose network is closed (see the machine notes): no sandbox, no background calls
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextmanager
def chromium() -> Iterator:
    if sync_playwright is None:
        pytest.skip("Playwright for Python is not installed (pip install -r requirements-dev.txt)")
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


class BrowserThread:
    """Chromium driven from a thread of its own. Playwright's sync API switches greenlets in
    the thread that uses it, which swaps the thread's Django database connection for another
    (Django keeps connections per context); tests that use the database between two browser
    steps hand the steps to this thread instead: ``browser.run(lambda b: ...)``."""

    def __init__(self):
        self._jobs: queue.Queue = queue.Queue()
        self._ready = threading.Event()
        self._skip: str | None = None
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        self._ready.wait(timeout=60)
        if self._skip:
            pytest.skip(self._skip)

    def _serve(self):
        try:
            context = chromium()
            browser = context.__enter__()
        except pytest.skip.Exception as exc:
            self._skip = str(exc)
            self._ready.set()
            return
        self._ready.set()
        try:
            while (job := self._jobs.get()) is not None:
                function, done = job
                try:
                    done.put((True, function(browser)))
                except BaseException as exc:  # re-raised in the test's thread
                    done.put((False, exc))
        finally:
            context.__exit__(None, None, None)

    def run(self, function, timeout: float = 60):
        done: queue.Queue = queue.Queue()
        self._jobs.put((function, done))
        ok, value = done.get(timeout=timeout)
        if not ok:
            raise value
        return value

    def close(self):
        self._jobs.put(None)
        self._thread.join(timeout=30)


@contextmanager
def serving_django():
    """Our site served over HTTP from a thread, for the browser (pytest-django's session-wide
    live_server does not mix with serialized rollback); yields its base URL."""

    class QuietHandler(WSGIRequestHandler):
        def log_message(self, *args):
            pass

    class Server(ThreadingMixIn, WSGIServer):
        # server_close() waits for requests in flight (a late webhook still being processed)
        # so that none writes while the test's database is being reset.
        daemon_threads = False
        block_on_close = True

    def app(environ, start_response):
        try:
            return handler(environ, start_response)
        finally:
            connection.close()  # each request thread's own connection

    handler = WSGIHandler()
    server = make_server("127.0.0.1", 0, app, server_class=Server, handler_class=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def site_with_stripe_peer(stripe_peer, settings) -> Iterator[str]:
    """Our site served for the browser, with Stripe.js from the local peer and the peer's
    signed webhooks sent to it; yields its base URL."""
    from tests.stripe_peer import configure_webhook, remove_webhook

    settings.STRIPE_JS_URL = f"{stripe_peer.base_url}/js.stripe.com/v3/"
    settings.STRIPE_PUBLISHABLE_KEY = "pk_test_stripe_peer"
    settings.ALLOWED_HOSTS = ["127.0.0.1"]
    with serving_django() as url:
        configure_webhook(
            stripe_peer.base_url, f"{url}/payments/stripe/webhook/", settings.STRIPE_WEBHOOK_SECRET
        )
        try:
            yield url
        finally:
            remove_webhook(stripe_peer.base_url)
            time.sleep(0.3)  # deliveries the peer had already scheduled arrive before we stop
