"""Authentication backends that load the signed-in user, for every request, together with
whether they hold a TOTP authenticator: the admin asks that on every page (staff need a
second factor, accounts.signin.admin_entry_allowed), and one EXISTS in the user's own query
is cheaper than a query of its own. Read with each request, it is never stale: removing the
authenticator shuts the admin on the very next request, in every process."""

from allauth.account.auth_backends import AuthenticationBackend as AllauthBackend
from allauth.mfa.models import Authenticator
from django.contrib.auth import backends, get_user_model
from django.db.models import Exists, OuterRef

#: the attribute the users loaded here carry (accounts.signin.has_totp reads it)
HAS_TOTP = "has_totp_authenticator"


def user_with_second_factor(backend, user_id):
    totp = Authenticator.objects.filter(user_id=OuterRef("pk"), type=Authenticator.Type.TOTP)
    user = get_user_model()._default_manager.annotate(**{HAS_TOTP: Exists(totp)}).filter(pk=user_id).first()
    return user if user is not None and backend.user_can_authenticate(user) else None


class ModelBackend(backends.ModelBackend):
    def get_user(self, user_id):
        return user_with_second_factor(self, user_id)


class AuthenticationBackend(AllauthBackend):
    def get_user(self, user_id):
        return user_with_second_factor(self, user_id)
