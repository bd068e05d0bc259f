"""Stripe's webhook endpoint and the customer's payment pages (Stripe-hosted fields: card data
goes from the browser to Stripe, never through us)."""

import logging

from django.conf import settings
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from payments import stripe_gateway
from payments.checkout import STRIPE_METHOD_TYPES, payment_checkout, payment_refresh
from payments.declines import decline_message
from payments.links import pay_url, payment_from_token, payment_token, return_url
from payments.models import Payment, PaymentMethod
from payments.provider_events import event_receive
from plans.models import Renewal
from reseller.actors import Actor
from reseller.errors import DomainError

logger = logging.getLogger(__name__)

# Anything bigger is not a Stripe event: refused before it is read.
MAX_WEBHOOK_BYTES = 512 * 1024


@csrf_exempt
@require_POST
def stripe_webhook(request):
    """Verify, store once, answer 2xx at once; processing runs in a task after commit."""
    length = request.META.get("CONTENT_LENGTH") or "0"
    if not length.isdigit() or int(length) > MAX_WEBHOOK_BYTES:
        return HttpResponseBadRequest("bad length")
    try:
        _event, new = event_receive(request.body, request.headers.get("Stripe-Signature", ""))
    except stripe_gateway.SignatureError as exc:
        logger.warning("Stripe webhook refused: %s", exc.message)
        return HttpResponseBadRequest(str(exc.message))
    return HttpResponse("stored" if new else "duplicate", content_type="text/plain")


def _payment_or_404(token: str) -> Payment:
    payment = payment_from_token(token)
    if payment is None or payment.method not in STRIPE_METHOD_TYPES:
        raise Http404
    return payment


def _by_a_stranger(payment: Payment) -> bool:
    """Paid through the public top-up: the payer may not be the line's owner, so the pages
    show nothing of the owner (not even their language) and the full ICCID stays hidden."""
    return payment.renewal is not None and payment.renewal.channel == Renewal.Channel.PUBLIC_TOPUP


def _customer_language(payment: Payment):
    if _by_a_stranger(payment):
        return translation.override(translation.get_language())  # the payer's, from the request
    return translation.override(payment.customer.language)


@require_GET
@never_cache
def pay(request, token: str):
    payment = _payment_or_404(token)
    with _customer_language(payment):
        if payment.status not in Payment.OPEN_STATUSES or payment.renewal is None:
            return render(request, "payments/result.html", _result_context(payment))
        try:
            checkout = payment_checkout(payment, actor=Actor.system("payment page"))
        except DomainError as exc:
            return render(request, "payments/result.html", {**_result_context(payment), "error": exc.message})
        return render(
            request,
            "payments/pay.html",
            {
                "payment": checkout.payment,
                "plan_name": payment.renewal.plan.display_name(translation.get_language()),
                "line_label": _line_label(payment),
                "client_secret": checkout.client_secret,
                "publishable_key": checkout.publishable_key,
                "stripe_js_url": settings.STRIPE_JS_URL,
                "method_type": STRIPE_METHOD_TYPES[checkout.payment.method],
                "return_url": request.build_absolute_uri(return_url(checkout.payment)),
                "test_mode": not stripe_gateway.mode().livemode,
            },
        )


@require_GET
@never_cache
def payment_return(request, token: str):
    """Where Stripe sends the customer back: we ask Stripe for the payment's state at once, so
    a slow or lost webhook never leaves a paid customer looking at "pending"."""
    payment = _payment_or_404(token)
    with _customer_language(payment):
        error = None
        try:
            payment = payment_refresh(payment, actor=Actor.system("payment return page"))
        except DomainError as exc:  # Stripe unreachable, or anything else we refuse
            error = exc.message
        payment.refresh_from_db()
        return render(request, "payments/result.html", {**_result_context(payment), "error": error})


@never_cache
def renewal_pay(request, token: str):
    """Pay a renewal with the method the customer chooses (the link in a failed-payment
    message): GET shows the choice and changes nothing; POST opens the payment."""
    from payments.checkout import payment_start
    from payments.links import renewal_from_token

    renewal = renewal_from_token(token)
    if renewal is None:
        raise Http404
    customer = renewal.line.customer
    with translation.override(customer.language):
        context = {
            "renewal": renewal,
            "plan_name": renewal.plan.display_name(customer.language),
            "methods": [(m, PaymentMethod(m).label) for m in STRIPE_METHOD_TYPES],
            "test_mode": not stripe_gateway.mode().livemode,
        }
        if renewal.status in Renewal.GRANTED_STATUSES:
            context["done"] = True
        elif renewal.status not in (Renewal.Status.PENDING_PAYMENT, Renewal.Status.FAILED):
            context["closed"] = True
        elif request.method == "POST":
            try:
                checkout = payment_start(
                    renewal=renewal, method=request.POST.get("method", ""), actor=Actor.system("renewal link")
                )
            except DomainError as exc:
                context["error"] = exc.message
            else:
                return redirect(pay_url(checkout.payment))
        return render(request, "payments/renew.html", context)


@require_GET
def receipt(request, token: str):
    """The customer's receipt, from the signed link on the payment page (logged-in customers
    also get it from their self-service page)."""
    payment = payment_from_token(token)
    if payment is None or not payment.receipt_number or _by_a_stranger(payment):
        raise Http404
    from payments.receipt_pdf import receipt_pdf

    response = HttpResponse(receipt_pdf(payment), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{payment.receipt_number}.pdf"'
    return response


def _line_label(payment: Payment) -> str:
    from payments.topup import mask_iccid

    iccid = payment.renewal.line.iccid
    return mask_iccid(iccid) if _by_a_stranger(payment) else iccid


def _result_context(payment: Payment) -> dict:
    renewal = payment.renewal
    follow = renewal is not None and renewal.channel == Renewal.Channel.SELF_SERVICE
    return {
        # A customer who renewed from their page follows the activation there.
        "follow_url": reverse("account:renewal_status", args=[renewal.line_id, renewal.pk]) if follow else "",
        # The PDF names the owner: a top-up payer gets their receipt by e-mail instead.
        "receipt_downloadable": not _by_a_stranger(payment),
        "payment": payment,
        "token": payment_token(payment),
        "decline": decline_message(payment.failure_message),
        "test_mode": not stripe_gateway.mode().livemode,
    }
