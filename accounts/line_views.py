"""The customer's lines under /account/: an overview with what is left, a line's page (history,
eSIM install, auto-renew, receipts), renewing, and following a renewal until it is active.
Another customer's line, renewal or payment answers 404, like one that does not exist."""

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.esim_install import esim_install
from accounts.line_forms import AutoRenewForm, RenewForm
from accounts.models import SimLine
from accounts.profile_views import customer_page
from payments import stripe_gateway
from payments.autorenew import line_auto_renew_set
from payments.checkout import renewal_checkout_start
from payments.links import pay_url
from payments.models import Payment
from payments.saved_methods import saved_method_from_setup_intent, saved_method_setup_start, saved_methods_of
from plans.balances import line_balance, line_balances
from plans.line_history import line_history
from plans.models import Renewal
from plans.periods import days_left as days_left_until
from reseller.actors import Actor
from reseller.errors import DomainError

#: Renewal statuses after which the status page stops refreshing itself.
SETTLED = {Renewal.Status.ACTIVE, Renewal.Status.FAILED, Renewal.Status.CANCELLED, Renewal.Status.REFUNDED}


def _own_line(request, line_id: int) -> SimLine:
    return get_object_or_404(
        SimLine.objects.select_related("plan", "customer"), pk=line_id, customer=request.customer
    )


def days_left(line: SimLine, now, time_zone: str = "") -> int | None:
    """Counted on the customer's clock (``time_zone``, else their own)."""
    if line.expires_at is None:
        return None
    return days_left_until(line.expires_at, now, time_zone or line.customer.timezone)


@customer_page
@require_GET
def overview(request):
    lines = list(SimLine.objects.filter(customer=request.customer).select_related("plan").order_by("pk"))
    balances = line_balances(lines)
    now = timezone.now()
    language = get_language()
    rows = [
        {
            "line": line,
            "balance": balances[line.pk],
            "days_left": days_left(line, now, request.customer.timezone),
            "status": line.effective_status,
            "plan_name": line.plan.display_name(language) if line.plan else "",
        }
        for line in lines
    ]
    return render(request, "portal/overview.html", {"rows": rows, "nav": "lines", "language": get_language()})


@customer_page
@require_GET
def line_detail(request, line_id: int):
    line = _own_line(request, line_id)
    cards = list(saved_methods_of(request.customer).filter(kind="card"))
    context = {
        "line": line,
        "balance": line_balance(line),
        "days_left": days_left(line, timezone.now()),
        "status": line.effective_status,
        "plan_name": line.plan.display_name(get_language()) if line.plan else "",
        "history": line_history(line),
        "install": esim_install(line),
        "auto_renew_form": AutoRenewForm(
            line=line,
            cards=cards,
            language=get_language(),
            initial={
                "enabled": line.auto_renew,
                "plan": line.auto_renew_plan_id or line.plan_id,
                "method": str(line.auto_renew_payment_method_id or ""),
            },
        ),
        "cards": cards,
        "nav": "lines",
        "language": get_language(),
    }
    return render(request, "portal/line.html", context)


@customer_page
@require_POST
def auto_renew(request, line_id: int):
    line = _own_line(request, line_id)
    cards = list(saved_methods_of(request.customer).filter(kind="card"))
    form = AutoRenewForm(request.POST, line=line, cards=cards, language=get_language())
    if not form.is_valid():
        messages.error(request, " ".join(" ".join(errors) for errors in form.errors.values()))
        return redirect("account:line", line_id=line.pk)
    enabled = form.cleaned_data["enabled"]
    try:
        line_auto_renew_set(
            line=line,
            enabled=enabled,
            plan=form.cleaned_data["plan"],
            method=form.cards.get(form.cleaned_data["method"]),
            actor=Actor.customer(request.user),
            reason="the customer's choice on their page",
        )
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Auto-renew is on.") if enabled else _("Auto-renew is off."))
    return redirect("account:line", line_id=line.pk)


@customer_page
@never_cache
@require_http_methods(["GET", "POST"])
def renew(request, line_id: int):
    line = _own_line(request, line_id)
    form = RenewForm(request.POST or None, line=line, language=get_language())
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            checkout = renewal_checkout_start(
                line=line,
                plan=data["plan"],
                currency=data["currency"],
                method=data["method"],
                channel=Renewal.Channel.SELF_SERVICE,
                idempotency_key=f"page:{data['attempt']}",
                actor=Actor.customer(request.user),
            )
        except DomainError as error:
            form.add_error(None, error.message)
        except stripe_gateway.ProviderError:
            form.add_error(None, _("Payments are unavailable for a moment; please try again."))
        else:
            return redirect(pay_url(checkout.payment))
    return render(request, "portal/renew.html", {"line": line, "form": form, "nav": "lines"})


@customer_page
@require_GET
def renewal_status(request, line_id: int, renewal_id: int):
    line = _own_line(request, line_id)
    renewal = get_object_or_404(Renewal.objects.select_related("plan"), pk=renewal_id, line=line)
    steps = [
        (Renewal.Status.PAID, _("Paid")),
        (Renewal.Status.ACTIVATING, _("Activating")),
        (Renewal.Status.ACTIVE, _("Active")),
    ]
    order = [status for status, _label in steps]
    reached = order.index(renewal.status) if renewal.status in order else -1
    context = {
        "line": line,
        "renewal": renewal,
        "steps": [(label, index <= reached) for index, (_status, label) in enumerate(steps)],
        "settled": renewal.status in SETTLED,
        "nav": "lines",
        "language": get_language(),
    }
    return render(request, "portal/renewal_status.html", context)


@customer_page
@require_GET
def receipts(request):
    payments = (
        Payment.objects.filter(customer=request.customer, status=Payment.Status.SUCCEEDED)
        .exclude(receipt_number=None)
        .select_related("renewal__line", "renewal__plan")
        .order_by("-paid_at")
    )
    return render(request, "portal/receipts.html", {"payments": payments, "nav": "receipts"})


@customer_page
@require_GET
def receipt_download(request, payment_id: int):
    from payments.receipt_pdf import receipt_pdf

    payment = get_object_or_404(
        Payment,
        pk=payment_id,
        customer=request.customer,
        status=Payment.Status.SUCCEEDED,
        receipt_number__isnull=False,
    )
    response = HttpResponse(receipt_pdf(payment), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{payment.receipt_number}.pdf"'
    return response


@customer_page
@never_cache
@require_GET
def card_add(request):
    """Save a card for auto-renew: Stripe's fields take the card, our server never sees it."""
    attempt = request.session.setdefault("card_setup_attempt", timezone.now().strftime("%Y%m%d%H%M%S%f"))
    try:
        setup = saved_method_setup_start(
            customer=request.customer, actor=Actor.customer(request.user), attempt_key=attempt
        )
    except stripe_gateway.ProviderError:
        messages.error(request, _("Payments are unavailable for a moment; please try again."))
        return redirect("account:overview")
    context = {
        "client_secret": setup.client_secret,
        "publishable_key": setup.publishable_key,
        "stripe_js_url": settings.STRIPE_JS_URL,
        "return_url": request.build_absolute_uri(request.path.replace("add/", "added/")),
        "next": request.GET.get("line", ""),
        "nav": "lines",
    }
    return render(request, "portal/card_add.html", context)


@customer_page
@require_GET
def card_added(request):
    setup_intent_id = request.GET.get("setup_intent", "")
    if not setup_intent_id.startswith("seti_"):
        raise Http404
    # Whose card it is comes from Stripe's copy of the intent, never from the address bar.
    intent = stripe_gateway.setup_intent_retrieve(setup_intent_id)
    if (
        intent.get("customer") != request.customer.stripe_customer_id
        or not request.customer.stripe_customer_id
    ):
        raise Http404
    saved = saved_method_from_setup_intent(setup_intent_id, actor=Actor.customer(request.user))
    request.session.pop("card_setup_attempt", None)
    if saved is None:
        messages.error(request, _("The card was not saved: your bank declined it or it cannot be reused."))
    else:
        messages.success(request, _("Card saved: %(card)s") % {"card": saved})
    line_id = request.GET.get("line", "")
    if line_id.isdigit() and SimLine.objects.filter(pk=int(line_id), customer=request.customer).exists():
        return redirect("account:line", line_id=int(line_id))
    return redirect("account:overview")
