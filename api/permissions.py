"""What a caller may do on an endpoint: the key's scope for the method (read for GET, write
for POST, refund for refunds) and, for staff tokens, the user's role permission."""

from dataclasses import dataclass

from django.utils.translation import gettext as _
from rest_framework import exceptions
from rest_framework.permissions import BasePermission

from api.callers import ApiCaller


@dataclass(frozen=True)
class Access:
    scope: str
    #: The Django permission a staff user's role must hold (accounts/roles.py).
    staff_permission: str
    #: The reseller's own operations (offline payments, payment links, SIM swaps): a partner
    #: key is refused whatever its scopes.
    staff_only: bool = False


class ScopeAndRole(BasePermission):
    """Each view lists ``access = {"GET": Access(...), "POST": Access(...)}``."""

    def has_permission(self, request, view):
        caller = request.auth
        if not isinstance(caller, ApiCaller):
            raise exceptions.NotAuthenticated()
        access = view.access.get(request.method) or view.access.get("GET")
        if access is None:
            return True
        if not caller.has_scope(access.scope):
            raise exceptions.PermissionDenied(
                _("This key lacks the “%(scope)s” scope.") % {"scope": access.scope}, code="scope_missing"
            )
        if access.staff_only and caller.is_partner:
            raise exceptions.PermissionDenied(
                _("Only the reseller's staff can do this; partners cannot."), code="staff_only"
            )
        if not caller.has_role_permission(access.staff_permission):
            raise exceptions.PermissionDenied(
                _("Your staff role does not allow this operation."), code="role_forbidden"
            )
        return True
