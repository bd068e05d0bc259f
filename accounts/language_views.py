"""The language switch on every customer page (zh-Hans, en, fr). For a signed-in customer it
also becomes the language of their e-mails and SMS, so the choice is made once."""

from django.conf import settings
from django.http import HttpResponseRedirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from accounts.details import customer_profile_update
from accounts.models import Customer
from reseller.actors import Actor


@require_POST
def language_choose(request):
    language = request.POST.get("language", "")
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = "/"
    response = HttpResponseRedirect(target)
    if language not in dict(settings.LANGUAGES):
        return response  # an unknown choice changes nothing
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )
    if request.user.is_authenticated:
        customer = Customer.objects.filter(user=request.user).first()
        if customer is not None:
            customer_profile_update(
                customer=customer, changes={"language": language}, actor=Actor.customer(request.user)
            )
    return response
