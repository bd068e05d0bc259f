"""The local Stripe peer: localstripe's aiohttp app, clean on every start, extended where our payment flows
need what it lacks (localstripe_ext/), and served on 127.0.0.1 only.

Run by the peer virtualenv (scripts/stripe-peer), never imported by the product: localstripe is GPL-3.0
and lives in its own process. Every extension drives localstripe's own resource objects and answers on
Stripe's URL with Stripe's shape; the routes under /_test/ and /_config/ stand for what a person or the
test harness does on Stripe's side (pay, authenticate, dispute, reset). At /js.stripe.com/v3/ it serves
our Stripe.js stand-in (stripe_js/v3.js), which pays from a browser with the publishable key. See
docs/stripe-peer.md.
"""

import argparse
import asyncio
import hashlib
import logging
import os
import secrets
import signal
import socket
import sys

import localstripe_ext
from aiohttp import web
from localstripe import resources, webhooks
from localstripe.errors import UserError, json_response
from localstripe.resources import store
from localstripe_ext import CURRENT_REQUEST, STATE

log = logging.getLogger("stripe_peer")


def _rebind_native_routes() -> None:
    # localstripe's route table holds the methods bound at its import: point them at the patched ones.
    for index, (method, url, func) in enumerate(resources.extra_apis):
        owner = getattr(func, "__self__", None)
        if isinstance(owner, type):
            resources.extra_apis[index] = (method, url, getattr(owner, func.__name__))


def _idempotency_error(status: int, message: str) -> web.Response:
    return json_response({"error": {"type": "idempotency_error", "message": message}}, status=status)


@web.middleware
async def idempotency_middleware(request, handler):
    """Stripe's Idempotency-Key: the same key on the same endpoint with the same parameters answers the
    first response again; other parameters are refused. As on Stripe, only requests that ran are kept
    (a success or a card error), not the ones refused before running (400, 404)."""
    key = request.headers.get("Idempotency-Key")
    if request.method != "POST" or not key or not request.path.startswith("/v1/"):
        return await handler(request)
    scope = (request.headers.get("Authorization", ""), key)
    body = await request.read()
    fingerprint = (request.path, hashlib.sha256(body).hexdigest())
    saved = STATE.idempotent.get(scope)
    if saved is not None:
        first_fingerprint, status, saved_body = saved
        if first_fingerprint[0] != request.path:
            return _idempotency_error(
                400,
                "Keys for idempotent requests can only be used for the same endpoint they were first used "
                f"for ('{first_fingerprint[0]}' vs '{request.path}'). Try using a key other than '{key}' if "
                "you meant to execute a different request.",
            )
        if first_fingerprint != fingerprint:
            return _idempotency_error(
                400,
                "Keys for idempotent requests can only be used with the same parameters they were first used "
                f"with. Try using a key other than '{key}' if you meant to execute a different request.",
            )
        headers = {"Idempotency-Key": key, "Idempotent-Replayed": "true"}
        return web.Response(status=status, body=saved_body, content_type="application/json", headers=headers)
    if scope in STATE.in_flight:
        return _idempotency_error(
            409,
            "There is currently another in-progress request using this Idempotent Key (that probably means "
            f"you submitted twice, and the other request is still going through): {key}. Please try again "
            "later.",
        )
    STATE.in_flight.add(scope)
    try:
        try:
            response = await handler(request)
        except UserError as error:
            response = error.to_response()
        if 200 <= response.status < 300 or response.status == 402:
            STATE.idempotent[scope] = (fingerprint, response.status, response.body)
        response.headers["Idempotency-Key"] = key
        return response
    finally:
        STATE.in_flight.discard(scope)


@web.middleware
async def request_id_middleware(request, handler):
    """A Request-Id on every answer, as Stripe's; the events a request causes name it and its
    Idempotency-Key, and carry the Stripe-Version our client sends."""
    request_id = "req_" + secrets.token_hex(7)
    STATE.api_version = request.headers.get("Stripe-Version") or STATE.api_version
    CURRENT_REQUEST.set({"id": request_id, "idempotency_key": request.headers.get("Idempotency-Key")})
    try:
        response = await handler(request)
    except UserError as error:
        response = error.to_response()
    response.headers["Request-Id"] = request_id
    return response


async def reset(request):
    """Forget every object, saved idempotent response and pending webhook delivery (webhook endpoints
    are configuration and stay)."""
    store.clear()
    STATE.idempotent.clear()
    for task in list(STATE.deliveries):
        task.cancel()
    return web.json_response({"reset": True})


async def remove_webhook(request):
    webhooks._webhooks.pop(request.match_info["id"], None)
    return web.json_response({"deleted": True})


def build_app() -> web.Application:
    _rebind_native_routes()
    resources.extra_apis.extend(localstripe_ext.ROUTES)
    from localstripe.server import app  # registers the routes of extra_apis as they are now

    # After authentication, before the handlers: a replay needs the caller's key, a handler's errors
    # must be kept as responses.
    position = next(i for i, mw in enumerate(app.middlewares) if mw.__name__ == "auth_middleware") + 1
    app.middlewares.insert(position, idempotency_middleware)
    app.middlewares.insert(position, request_id_middleware)
    app.router.add_post("/_config/reset", reset)
    app.router.add_delete("/_config/webhooks/{id}", remove_webhook)
    # The browser's side: our Stripe.js, publishable-key calls, CORS, the next-action pages.
    from localstripe_ext import browser

    browser.install(app)
    return app


PARENT_WATCH = web.AppKey("parent_watch", asyncio.Task)


def _stop_when_gone(pid: int):
    async def start(app):
        async def watch():
            while _alive(pid):
                await asyncio.sleep(1)
            log.warning("process %d that started the peer is gone: stopping", pid)
            os.kill(os.getpid(), signal.SIGTERM)

        app[PARENT_WATCH] = asyncio.get_running_loop().create_task(watch())

    return start


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="The local Stripe peer (localstripe + extensions).")
    parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("STRIPE_PEER_PORT", "8420")),
        help="0 picks a free port",
    )
    parser.add_argument(
        "--webhook-delay", type=float, default=0.2, help="seconds before an event is delivered"
    )
    parser.add_argument("--watch-pid", type=int, help="stop when this process (the test run) is gone")
    parser.add_argument("--log-requests", action="store_true", help="access log on stderr")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="stripe-peer: %(message)s")

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", args.port))  # loopback only: this is a test double, never a service
    STATE.base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    STATE.webhook_delay = args.webhook_delay

    app = build_app()
    if args.watch_pid:
        app.on_startup.append(_stop_when_gone(args.watch_pid))
    web.run_app(
        app,
        sock=sock,
        access_log=logging.getLogger("aiohttp.access") if args.log_requests else None,
        # The one line on stdout: tests wait for it (and read the port from it).
        print=lambda _banner: print(f"stripe-peer ready on {STATE.base_url}", flush=True),
    )


if __name__ == "__main__":
    main()
