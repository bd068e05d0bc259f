"""The customer's browser side of the peer: our Stripe.js stand-in (../stripe_js/v3.js) at
/js.stripe.com/v3/ in place of localstripe's, the publishable-key calls it makes as Stripe.js makes them,
CORS for pages served from another origin, and the test pages a customer is sent to for a next action
(3-D Secure, Alipay, WeChat Pay's QR code).

Imported by stripe_peer.build_app once localstripe's app exists (it imports localstripe.server, which
registers the routes known at that moment), then ``install(app)``.
"""

import html
import json
import re
import secrets
import string
from decimal import Decimal
from pathlib import Path

from aiohttp import web
from localstripe import server
from localstripe.errors import UserError
from localstripe.resources import PaymentIntent, store

from . import qr

STRIPE_JS = Path(__file__).resolve().parent.parent / "stripe_js"
SCRIPT = STRIPE_JS / "v3.js"
PAGE = string.Template((STRIPE_JS / "next_action.html").read_text())

_INTENT = r"(?P<id>{prefix}_[A-Za-z0-9]+)"
_PI = _INTENT.format(prefix="pi")
_SETI = _INTENT.format(prefix="seti")
#: what a browser may call without a secret key: (method, path, needs the publishable key, the object
#: whose client_secret must come with the call). Stripe.js sends `key=pk_…` and `client_secret` in the
#: form body (or the query of a GET); the next-action pages, like Stripe's hosted ones, have only the
#: client_secret that their address carries.
BROWSER_CALLS = [
    ("POST", re.compile(r"^/v1/payment_methods$"), True, None),
    ("GET", re.compile(rf"^/v1/payment_intents/{_PI}$"), True, "payment_intent"),
    ("POST", re.compile(rf"^/v1/payment_intents/{_PI}/confirm$"), True, "payment_intent"),
    ("GET", re.compile(rf"^/v1/setup_intents/{_SETI}$"), True, "setup_intent"),
    ("POST", re.compile(rf"^/v1/setup_intents/{_SETI}/confirm$"), True, "setup_intent"),
    ("POST", re.compile(rf"^/_test/payment_intents/{_PI}/authenticate$"), False, "payment_intent"),
    ("GET", re.compile(rf"^/_test/payment_intents/{_PI}/authenticate$"), False, "payment_intent"),
    ("GET", re.compile(rf"^/_test/payment_intents/{_PI}/qr\.(png|svg)$"), False, "payment_intent"),
    ("POST", re.compile(rf"^/_test/setup_intents/{_SETI}/authenticate$"), False, "setup_intent"),
]
#: headers a browser may send when it asks first (a JSON body, the secret key from a test page)
ALLOWED_HEADERS = "Authorization, Content-Type, Accept, Idempotency-Key, Stripe-Version, Stripe-Account"
EXPOSED_HEADERS = "Request-Id, Idempotency-Key, Idempotent-Replayed"
ZERO_DECIMAL = set("bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf".split())
THREE_DECIMAL = set("bhd jod kwd omr tnd".split())


@web.middleware
async def stripe_js_middleware(request, handler):
    """First of all middlewares: a CORS preflight is answered whatever the path (no key comes with it),
    and our Stripe.js replaces localstripe's, whose route at the same path is registered already."""
    if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
        return web.Response(status=204)
    if request.method in ("GET", "HEAD") and request.path == "/js.stripe.com/v3/":
        return web.FileResponse(
            SCRIPT,
            headers={"Content-Type": "application/javascript; charset=utf-8", "Cache-Control": "no-cache"},
        )
    return await handler(request)


async def cors_headers(request, response):
    """localstripe's own hook allows only Content-Type and Accept, and answers no preflight."""
    origin = request.headers.get("Origin")
    if not origin:
        return
    response.headers["Access-Control-Allow-Origin"] = origin
    response.headers["Vary"] = "Origin"
    response.headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
    if request.method == "OPTIONS":
        response.headers["Access-Control-Allow-Methods"] = "GET, POST, DELETE, OPTIONS"
        response.headers["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
        response.headers["Access-Control-Max-Age"] = "600"
        if request.headers.get("Access-Control-Request-Private-Network") == "true":
            response.headers["Access-Control-Allow-Private-Network"] = "true"


def publishable_key_auth(localstripe_auth):
    """localstripe's auth_middleware, extended to the calls Stripe.js makes with the publishable key.

    A call that carries an Authorization header, or is not one of BROWSER_CALLS, is localstripe's to
    judge (a secret key, or its own `key=pk_…` routes)."""

    @web.middleware
    async def auth_middleware(request, handler):
        call = _browser_call(request)
        if call is None or "Authorization" in request.headers:
            return await localstripe_auth(request, handler)
        match, needs_key, kind = call
        params = await _params(request)
        key = params.get("key")
        if needs_key and not (isinstance(key, str) and key.startswith("pk_") and len(key) > 3):
            raise UserError(
                401,
                "You did not provide an API key. You need to provide your API key in the Authorization "
                "header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'), or as `key` "
                "with a publishable key from Stripe.js.",
            )
        if kind is not None:
            _check_client_secret(kind, match["id"], params.get("client_secret"), with_key=needs_key)
        return await handler(request)

    return auth_middleware


def _browser_call(request):
    for method, pattern, needs_key, kind in BROWSER_CALLS:
        match = pattern.match(request.path) if request.method == method else None
        if match:
            return match, needs_key, kind
    return None


async def _params(request) -> dict:
    data = dict(server.unflatten_data(request.query))
    if request.method == "POST":
        body = await server.get_post_data(request, remove_auth=False)
        if isinstance(body, dict):
            data.update(body)
    return data


def _check_client_secret(kind: str, id: str, client_secret, *, with_key: bool) -> None:
    obj = store.get(f"{kind}:{id}")
    if obj is None:
        raise UserError(404, f"No such {kind}: '{id}'", {"code": "resource_missing", "param": "intent"})
    name = "PaymentIntent" if kind == "payment_intent" else "SetupIntent"
    if not isinstance(client_secret, str):
        if with_key:
            raise UserError(
                401,
                f"This API call cannot be made with a publishable API key without the {name}'s "
                "client_secret. Please use a secret API key.",
            )
        raise UserError(401, "Unauthorized: this page needs the client_secret in its address.")
    if not secrets.compare_digest(client_secret, obj.client_secret):
        raise UserError(
            400,
            f"The client_secret provided does not match the client_secret associated with the {name}.",
            {"param": "client_secret"},
        )


# -- The customer's next-action page: Stripe's 3-D Secure / Alipay / WeChat Pay page, as a test page ----


async def next_action_page(request):
    """GET on the address in next_action (redirect_to_url.url, alipay_handle_redirect.url,
    wechat_pay_display_qr_code.hosted_instructions_url): two buttons that POST the customer's answer to
    the same address, then back to the return_url with Stripe's query parameters."""
    pi = PaymentIntent._api_retrieve(request.match_info["id"])
    action = pi.next_action or {}
    kind = action.get("type")
    qr_picture = ""
    if kind == "alipay_handle_redirect":
        heading, yes = "Alipay", "Authorize"
        text = "This page stands in for Alipay: authorize the payment, or make it fail."
    elif kind == "wechat_pay_display_qr_code":
        heading, yes = "WeChat Pay", "Authorize"
        text = "Scan the code with WeChat: here, authorize the payment or make it fail instead."
        qr_picture = (
            f'<img class="qr" data-testid="stripe-peer-qr" alt="Test QR code (not scannable)" '
            f'src="{html.escape(action[kind]["image_url_svg"])}">'
        )
    elif kind in ("redirect_to_url", "use_stripe_sdk"):
        heading, yes = "3-D Secure authentication", "Complete"
        text = "This page stands in for the card issuer's authentication: complete it, or make it fail."
    else:
        heading, yes = "Nothing to authorize", None
        text = f"This PaymentIntent is {pi.status}: it waits for no action from the customer."
    config = {
        "action": f"/_test/payment_intents/{pi.id}/authenticate",
        "payment_intent": pi.id,
        "client_secret": pi.client_secret,
        "return_url": pi._return_url,
    }
    buttons = (
        f'<button type="button" data-success="true" data-testid="stripe-peer-authorize">{yes}</button>'
        '<button type="button" data-success="false" data-testid="stripe-peer-fail">Fail</button>'
        if yes
        else ""
    )
    page = PAGE.substitute(
        title=html.escape(f"{heading} (Stripe test peer)"),
        heading=html.escape(heading),
        amount=html.escape(display_amount(pi.amount, pi.currency)),
        text=html.escape(text),
        qr=qr_picture,
        buttons=buttons,
        # In a <script> element: "</" must not close it.
        config=json.dumps(config).replace("<", "\\u003c"),
    )
    return web.Response(text=page, content_type="text/html", headers={"Cache-Control": "no-store"})


async def qr_image(request):
    pi = PaymentIntent._api_retrieve(request.match_info["id"])
    action = (pi.next_action or {}).get("wechat_pay_display_qr_code")
    if action is None:
        raise UserError(404, "This PaymentIntent shows no WeChat Pay QR code now.")
    if request.path.endswith(".svg"):
        return web.Response(text=qr.svg(action["data"]), content_type="image/svg+xml")
    return web.Response(body=qr.png(action["data"]), content_type="image/png")


def display_amount(amount: int, currency: str) -> str:
    currency = (currency or "").lower()
    exponent = 0 if currency in ZERO_DECIMAL else 3 if currency in THREE_DECIMAL else 2
    return f"{Decimal(amount).scaleb(-exponent):.{exponent}f} {currency.upper()}"


def install(app: web.Application) -> None:
    app.middlewares.insert(0, stripe_js_middleware)
    position = next(i for i, mw in enumerate(app.middlewares) if mw is server.auth_middleware)
    app.middlewares[position] = publishable_key_auth(server.auth_middleware)
    app.on_response_prepare.remove(server.add_cors_headers)
    app.on_response_prepare.append(cors_headers)
    # The POST at this address is localstripe_ext's route: a GET here is the page.
    app.router.add_get("/_test/payment_intents/{id}/authenticate", next_action_page)
    app.router.add_get(r"/_test/payment_intents/{id}/qr.{ext:png|svg}", qr_image)
