"""One authentication for partner keys and staff tokens: ``Authorization: Bearer <key>``."""

from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from api.callers import ApiCaller
from api.keys import KeyRefused, api_key_check


class KeyForbidden(exceptions.PermissionDenied):
    """A valid key refused for where it comes from or whose it is (403, not 401)."""


_FORBIDDEN = {"partner_inactive", "ip_not_allowed"}


class ApiKeyAuthentication(BaseAuthentication):
    keyword = b"bearer"

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(
                _("Send the key as “Authorization: Bearer <key>”."), code="invalid_authorization"
            )
        try:
            raw_key = parts[1].decode("ascii")
        except UnicodeDecodeError as exc:
            raise exceptions.AuthenticationFailed(
                _("This API key is not valid."), code="invalid_api_key"
            ) from exc
        try:
            key = api_key_check(raw_key, remote_addr=request.META.get("REMOTE_ADDR"))
        except KeyRefused as refused:
            if refused.code in _FORBIDDEN:
                raise KeyForbidden(refused.message, code=refused.code) from refused
            raise exceptions.AuthenticationFailed(refused.message, code=refused.code) from refused
        caller = ApiCaller(key)
        return caller.principal, caller

    def authenticate_header(self, request):
        # Makes an unauthenticated request a 401 with a challenge, as RFC 9110 asks.
        return 'Bearer realm="api"'
