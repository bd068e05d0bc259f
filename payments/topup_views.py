"""The public top-up pages (/topup/): the number, then the plans and payment. No account needed.

Both steps are rate-limited, per client address and per number, in the Django cache (Redis
when REDIS_URL is set, so the limits hold across web processes): the page must not become a
way to try numbers one after another. ``TOPUP_RATE_LIMITS`` in settings may change the
defaults. A refused request answers 429 and does nothing else: no lookup, no form handling."""

import hashlib
import ipaddress
from http import HTTPStatus

from allauth.account.adapter import get_adapter
from django.conf import settings
from django.core.cache import cache
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from payments import stripe_gateway
from payments.links import pay_url
from payments.topup import TopupNumber, topup_pay, topup_payer
from payments.topup_forms import TopupNumberForm, TopupPayForm, page_from_token, page_token
from reseller.errors import DomainError

#: (requests, seconds) per client address and per number, over both steps together.
DEFAULT_RATE_LIMITS = {"ip": (10, 600), "number": (5, 3600)}


def _over_limit(scope: str, key: str) -> bool:
    """Count one request for ``key`` and say whether it is one too many. The window opens at
    the first request and lasts the limit's seconds (the counter's expiry, which incrementing
    keeps); the key is hashed, so no phone number or address sits in the cache."""
    limit, seconds = getattr(settings, "TOPUP_RATE_LIMITS", DEFAULT_RATE_LIMITS)[scope]
    cache_key = f"topup:rl:{scope}:{hashlib.sha256(key.encode()).hexdigest()}"
    cache.add(cache_key, 0, timeout=seconds)
    try:
        count = cache.incr(cache_key)
    except ValueError:  # expired between add and incr: this request opens a new window
        cache.set(cache_key, 1, timeout=seconds)
        count = 1
    return count > limit


def _client_over_limit(request) -> bool:
    # The adapter's address honours ALLAUTH_TRUSTED_PROXY_COUNT, as the sign-in limits do.
    address = get_adapter().get_client_ip(request)
    try:
        if ipaddress.ip_address(address).version == 6:
            # One IPv6 client usually holds a whole /64: counted per address it could rotate.
            address = str(ipaddress.ip_network(f"{address}/64", strict=False).network_address)
    except ValueError:
        pass
    return _over_limit("ip", address)


def _number_over_limit(number: TopupNumber) -> bool:
    return _over_limit("number", number.value)


def _too_many(request):
    return render(request, "429.html", status=HTTPStatus.TOO_MANY_REQUESTS)


def _plans_page(request, number: TopupNumber, form: TopupPayForm):
    return render(request, "topup/plans.html", {"masked_number": number.masked, "form": form})


@never_cache
@require_http_methods(["GET", "POST"])
def topup(request):
    """One address for both steps: the number form, and the plans page posting back to it
    with its signed token. A valid number shows the plans page at once, never a redirect
    with the number in the address, where it would stay in the history and the logs."""
    if request.method == "GET":
        return render(request, "topup/start.html", {"form": TopupNumberForm()})
    if _client_over_limit(request):
        return _too_many(request)
    if "token" in request.POST:
        return _pay(request)
    form = TopupNumberForm(request.POST)
    if not form.is_valid():
        return render(request, "topup/start.html", {"form": form})
    number = form.cleaned_data["number"]
    if _number_over_limit(number):
        return _too_many(request)
    return _plans_page(request, number, TopupPayForm(initial={"token": page_token(number)}))


def _pay(request):
    """Pay: the first moment the number is looked up (see payments/topup.py)."""
    page = page_from_token(request.POST.get("token", ""))
    if page is None:
        error = _("This page has expired. Please enter the number again.")
        return render(request, "topup/start.html", {"form": TopupNumberForm(), "error": error})
    if _number_over_limit(page.number):
        return _too_many(request)
    form = TopupPayForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            checkout = topup_pay(
                number=page.number,
                plan=data["plan"],
                currency=data["currency"],
                method=data["method"],
                email=data["email"],
                language=request.LANGUAGE_CODE,
                attempt=page.attempt,
                actor=topup_payer(data["email"]),
            )
        except DomainError as error:
            form.add_error(None, error.message)
        except stripe_gateway.ProviderError:
            form.add_error(None, _("Payments are unavailable for a moment; please try again."))
        else:
            return redirect(pay_url(checkout.payment))
    return _plans_page(request, page.number, form)
