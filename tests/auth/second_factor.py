"""Staff and their second factor, for tests: the TOTP authenticator allauth's setup page makes,
the codes an authenticator app would show, and a signed-in staff session that passed the
second factor."""

import time
from datetime import UTC, datetime

from allauth.account.internal.flows.login import record_authentication
from allauth.account.models import EmailAddress
from allauth.mfa import app_settings as mfa_settings
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, generate_totp_secret, hotp_value
from allauth.mfa.utils import decrypt
from django.http import HttpRequest


def verified_email(user) -> None:
    """The user's e-mail as allauth keeps a verified one (mandatory before signing in)."""
    EmailAddress.objects.update_or_create(
        user=user, email=user.email, defaults={"verified": True, "primary": True}
    )


def give_totp(user) -> Authenticator:
    """A TOTP authenticator and recovery codes, as finishing allauth's setup page leaves them."""
    existing = Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).first()
    if existing is not None:
        return existing
    authenticator = TOTP.activate(user, generate_totp_secret()).instance
    RecoveryCodes.activate(user)
    return authenticator


def totp_code(user) -> str:
    """The code the user's authenticator app shows now (allauth's own HOTP over the time step)."""
    authenticator = Authenticator.objects.get(user=user, type=Authenticator.Type.TOTP)
    secret = decrypt(authenticator.data["secret"])
    return format_hotp_value(hotp_value(secret, int(time.time()) // mfa_settings.TOTP_PERIOD))


def recovery_codes(user) -> list[str]:
    authenticator = Authenticator.objects.get(user=user, type=Authenticator.Type.RECOVERY_CODES)
    return authenticator.wrap().get_unused_codes()


def start_of_a_time_step() -> datetime:
    """A moment at the start of a TOTP time step: a code computed then is still the current one
    when the test posts it (travel there with ``time_machine.travel(..., tick=True)``)."""
    period = mfa_settings.TOTP_PERIOD
    return datetime.fromtimestamp((int(time.time()) // period + 1) * period, tz=UTC)


def login_staff(client, user) -> None:
    """Sign ``user`` in on ``client`` with a session that passed the second factor: the user gets
    a TOTP authenticator if they had none, and the session the record allauth writes when a
    TOTP code is accepted (what the admin checks). Signing in through the pages themselves is
    tested in tests/auth/test_staff_second_factor.py."""
    authenticator = give_totp(user)
    client.force_login(user)
    request = HttpRequest()
    request.session = client.session
    record_authentication(request, user, "mfa", id=authenticator.pk, type=authenticator.type)
    request.session.save()
