"""Signing in (django-allauth): who may enter the admin, where a login lands, and the log of
failed attempts.

Staff reach the admin only with a TOTP authenticator AND a session that passed it: allauth
keeps, in the session, a record of every authentication step this user took in it (password,
e-mailed code, TOTP, recovery code); a second factor shows as method "mfa". The admin site
(reseller/admin_site.py) asks ``admin_entry_allowed``; everything else here sends a staff
member who has not got there yet to the step they are missing."""

import logging

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.authentication import get_authentication_records
from allauth.account.forms import ConfirmLoginCodeForm as BaseConfirmLoginCodeForm
from allauth.account.internal.flows.login import record_authentication
from allauth.core import context
from allauth.mfa.adapter import DefaultMFAAdapter
from allauth.mfa.base.forms import AuthenticateForm as BaseAuthenticateForm
from allauth.mfa.models import Authenticator
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from accounts.auth_backends import HAS_TOTP

logger = logging.getLogger("accounts.signin")

#: set on the request by ``admin_entry_allowed``: the admin asks several times per page
_ENTRY_ALLOWED = "_staff_admin_entry_allowed"


def second_factor_required(user) -> bool:
    return bool(settings.STAFF_REQUIRE_SECOND_FACTOR and user.is_staff)


def has_totp(user) -> bool:
    # The user the session loads carries the answer (accounts/auth_backends.py); a user
    # loaded otherwise asks, and so does one who set up an app in this request (below).
    known = getattr(user, HAS_TOTP, None)
    if known is not None:
        return known
    return Authenticator.objects.filter(user_id=user.pk, type=Authenticator.Type.TOTP).exists()


def session_passed_second_factor(request, user) -> bool:
    return any(record.get("method") == "mfa" for record in get_authentication_records(request, user))


def admin_entry_allowed(request) -> bool:
    """Active staff; and, unless the demo relaxed it, a TOTP authenticator and a session that
    passed the second factor (a TOTP or recovery code, at sign-in or since)."""
    user = request.user
    known = getattr(request, _ENTRY_ALLOWED, None)
    if known is not None and known[0] == user.pk:
        return known[1]
    allowed = bool(user.is_active and user.is_staff) and (
        not second_factor_required(user) or (has_totp(user) and session_passed_second_factor(request, user))
    )
    setattr(request, _ENTRY_ALLOWED, (user.pk, allowed))
    return allowed


def missing_second_factor_url(request, next_url: str) -> str:
    """Where a signed-in staff member goes before the admin: setting up an authenticator app,
    or entering a code from it in this session."""
    if not has_totp(request.user):
        messages.info(request, _("Set up an authenticator app to reach the back office."))
        return reverse("mfa_activate_totp")
    return f"{reverse('mfa_reauthenticate')}?{urlencode({'next': next_url})}"


def _client_ip(request) -> str:
    try:
        return DefaultAccountAdapter().get_client_ip(request)
    except PermissionDenied:  # allauth's answer when a request has no address at all
        return "unknown"


def log_failed_sign_in(request, login: str, why: str) -> None:
    # The login tried and the address, never the password or the code.
    logger.warning("sign-in failed: %s; login=%r ip=%s", why, login, _client_ip(request))


class AccountAdapter(DefaultAccountAdapter):
    def get_login_redirect_url(self, request):
        """Staff land on the admin (or on the step they still miss); customers on their
        account page."""
        if request.user.is_staff:
            admin_index = reverse("admin:index")
            if admin_entry_allowed(request):
                return admin_index
            return missing_second_factor_url(request, admin_index)
        return super().get_login_redirect_url(request)

    def pre_authenticate(self, request, **credentials):
        try:
            super().pre_authenticate(request, **credentials)
        except ValidationError:
            log_failed_sign_in(request, _login_of(credentials), "too many failed attempts, refused")
            raise

    def authentication_failed(self, request, **credentials):
        log_failed_sign_in(request, _login_of(credentials), "wrong login or password")


def _login_of(credentials: dict) -> str:
    return str(credentials.get("email") or credentials.get("username") or "")


class MFAAdapter(DefaultMFAAdapter):
    def can_delete_authenticator(self, authenticator) -> bool:
        # A staff member's app is their way into the admin: they may replace it (staff can
        # regenerate recovery codes) but not remove it.
        if authenticator.type == Authenticator.Type.TOTP and second_factor_required(authenticator.user):
            return False
        return super().can_delete_authenticator(authenticator)


class AuthenticateForm(BaseAuthenticateForm):
    """allauth's second-factor form, logging wrong codes like wrong passwords."""

    def clean_code(self):
        try:
            return super().clean_code()
        except ValidationError:
            log_failed_sign_in(context.request, self.user.get_username(), "wrong second-factor code")
            raise


class ConfirmLoginCodeForm(BaseConfirmLoginCodeForm):
    """allauth's form for the e-mailed sign-in code, logging wrong codes."""

    def clean_code(self):
        try:
            return super().clean_code()
        except ValidationError:
            # The pending sign-in allauth keeps on the request while the code is asked for.
            pending = getattr(getattr(context.request, "_login_stage", None), "login", None)
            log_failed_sign_in(context.request, getattr(pending, "email", None) or "", "wrong e-mailed code")
            raise


def record_second_factor_at_setup(sender, request, user, authenticator, **kwargs) -> None:
    """Setting up the authenticator app needs a code from it: that code is this session's second
    factor, recorded the way allauth records one typed at sign-in (so a staff member goes from
    setup to the admin without signing in again)."""
    if authenticator.type == Authenticator.Type.TOTP and request is not None:
        for loaded in {id(u): u for u in (user, request.user)}.values():  # loaded before the app
            if getattr(loaded, HAS_TOTP, None) is not None:
                delattr(loaded, HAS_TOTP)
        record_authentication(request, user, "mfa", id=authenticator.pk, type=authenticator.type)
