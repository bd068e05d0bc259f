"""The sign-in pages as a person uses them: forms posted, codes and links read from the e-mails
(Django's locmem outbox)."""

import re

from django.core import mail
from django.urls import reverse

PASSWORD = "correct horse battery staple"  # tests.factories.UserFactory's
SIGNUP_PASSWORD = "a long pass phrase 4 me"


def sign_in(client, login: str, password: str = PASSWORD, next_url: str | None = None, **extra):
    data = {"login": login, "password": password}
    if next_url is not None:
        data["next"] = next_url
    return client.post(reverse("account_login"), data, **extra)


def last_mail_to(address: str):
    sent = [message for message in mail.outbox if address in message.to]
    assert sent, f"no e-mail to {address} in {[m.to for m in mail.outbox]}"
    return sent[-1]


def code_in_mail(address: str) -> str:
    """The code on its own line in the last e-mail to ``address``."""
    body = last_mail_to(address).body
    codes = [p.strip() for p in body.split("\n\n") if re.fullmatch(r"[A-Z0-9-]{4,12}", p.strip())]
    assert len(codes) == 1, body
    return codes[0]


def link_in_mail(address: str, path_start: str) -> str:
    """The path of the link in the last e-mail to ``address`` that starts with ``path_start``."""
    body = last_mail_to(address).body
    match = re.search(rf"https?://[^/\s]+({re.escape(path_start)}\S*)", body)
    assert match, body
    return match.group(1)


def sign_in_by_code(client, email: str, next_url: str | None = None):
    data = {"email": email}
    if next_url is not None:
        data["next"] = next_url
    requested = client.post(reverse("account_request_login_code"), data)
    assert requested.status_code == 302, requested.content.decode()[:2000]
    return client.post(reverse("account_confirm_login_code"), {"code": code_in_mail(email)})


def sign_up(client, email: str, full_name: str = "Li Wei", password: str = SIGNUP_PASSWORD):
    return client.post(
        reverse("account_signup"),
        {"email": email, "full_name": full_name, "password1": password, "password2": password},
    )


def confirm_email_from_mail(client, email: str):
    path = link_in_mail(email, "/account/confirm-email/")
    return client.post(path)


def signed_in_user_id(client):
    return client.session.get("_auth_user_id")
