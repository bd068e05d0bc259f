"""The customer's profile pages under /account/profile/: their details, a new contact e-mail
or phone confirmed by code, and their correction requests with staff's answers."""

from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from accounts.contact_verification import contact_change_confirm, contact_change_start
from accounts.details import REQUESTABLE, correction_request_create, customer_profile_update
from accounts.models import ContactVerification, Correction, Customer
from accounts.profile_forms import CodeForm, ContactForm, CorrectionRequestForm, ProfileForm
from reseller.actors import Actor
from reseller.errors import DomainError


def customer_page(view):
    """A page of the signed-in customer's own: their record is ``request.customer``, dates are
    shown in their time zone. A login linked to no customer has no such pages."""

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        customer = Customer.objects.filter(user=request.user).first()
        if customer is None:
            # A login waiting for staff to choose its customer record (several share its
            # e-mail): it sees no one's data, and is told why.
            return render(request, "portal/no_customer.html")
        request.customer = customer
        # Their own language until they pick one on this device with the switch.
        language = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME) or customer.language
        with timezone.override(customer.timezone), translation.override(language):
            request.LANGUAGE_CODE = translation.get_language()
            return view(request, *args, **kwargs)

    return wrapper


def _actor(request) -> Actor:
    return Actor.customer(request.user)


@customer_page
@require_http_methods(["GET", "POST"])
def profile(request):
    customer = request.customer
    form = ProfileForm(request.POST or None, instance=Customer.objects.get(pk=customer.pk))
    if request.method == "POST" and form.is_valid():
        changes = {name: form.cleaned_data[name] for name in ProfileForm.Meta.fields}
        try:
            changed = customer_profile_update(customer=customer, changes=changes, actor=_actor(request))
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, _("Your details are saved.") if changed else _("Nothing to change."))
            return redirect("account:profile")
    return render(request, "portal/profile.html", {"customer": customer, "form": form, "nav": "profile"})


@customer_page
@require_http_methods(["GET", "POST"])
def contact_change(request, field):
    if field not in ContactVerification.Field.values:
        raise Http404
    form = ContactForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            contact_change_start(
                customer=request.customer,
                field=field,
                value=form.cleaned_data["value"],
                actor=_actor(request),
            )
        except DomainError as error:
            form.add_error("value", error.message)
        else:
            return redirect("account:contact_confirm", field=field)
    context = {"form": form, "field": field, "current": getattr(request.customer, field), "nav": "profile"}
    return render(request, "portal/contact_change.html", context)


@customer_page
@require_http_methods(["GET", "POST"])
def contact_confirm(request, field):
    if field not in ContactVerification.Field.values:
        raise Http404
    pending = (
        ContactVerification.objects.filter(
            customer=request.customer, field=field, confirmed_at__isnull=True, expires_at__gt=timezone.now()
        )
        .order_by("-pk")
        .first()
    )
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            contact_change_confirm(
                customer=request.customer, field=field, code=form.cleaned_data["code"], actor=_actor(request)
            )
        except DomainError as error:
            form.add_error("code", error.message)
        else:
            messages.success(request, _("Confirmed: we will use it from now on."))
            return redirect("account:profile")
    context = {"form": form, "field": field, "pending": pending, "nav": "profile"}
    return render(request, "portal/contact_confirm.html", context)


@customer_page
@require_http_methods(["GET", "POST"])
def correction_requests(request):
    customer = request.customer
    form = CorrectionRequestForm(request.POST or None, customer=customer)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            correction_request_create(
                customer=customer,
                field=data["field"],
                value=data["value"],
                comment=data["comment"],
                line=data["line"],
                actor=_actor(request),
            )
        except DomainError as error:
            form.add_error("line" if error.code == "not_found" else None, error.message)
        else:
            messages.success(request, _("Thank you: we will check and answer you by e-mail."))
            return redirect("account:correction_requests")
    asked = (
        Correction.objects.filter(customer=customer, field__in=list(REQUESTABLE), channel="self_service")
        .select_related("line")
        .order_by("-created_at")[:50]
    )
    labels = {name: label for name, (label, _kind, _line) in REQUESTABLE.items()}
    rows = [(correction, labels.get(correction.field, correction.field)) for correction in asked]
    return render(request, "portal/requests.html", {"form": form, "rows": rows, "nav": "requests"})
