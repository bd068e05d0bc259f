"""Sending SMS through a swappable backend, chosen by settings.SMS_BACKEND (a dotted path), as
Django does for e-mail: ``ConsoleSmsBackend`` prints (development), ``LocmemSmsBackend`` keeps
messages in ``outbox`` (tests) and ``TwilioSmsBackend`` sends through Twilio's REST API."""

import base64
import itertools
import json
import sys
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import TextIO

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string


class SmsError(Exception):
    """The provider refused the message or could not be reached; the text says why."""


@dataclass(frozen=True)
class SmsMessage:
    to: str
    body: str
    reference: str


class BaseSmsBackend:
    def send(self, *, to: str, body: str) -> str:
        """Send one SMS to an E.164 number; return the provider's reference for it."""
        raise NotImplementedError


class ConsoleSmsBackend(BaseSmsBackend):
    _counter = itertools.count(1)

    def __init__(self, stream: TextIO | None = None):
        self.stream = stream or sys.stdout

    def send(self, *, to: str, body: str) -> str:
        reference = f"console-{next(self._counter)}"
        self.stream.write(f"SMS to {to} ({reference}):\n{body}\n{'-' * 40}\n")
        self.stream.flush()
        return reference


#: Messages "sent" through LocmemSmsBackend, oldest first; tests empty it between tests.
outbox: list[SmsMessage] = []


class LocmemSmsBackend(BaseSmsBackend):
    def send(self, *, to: str, body: str) -> str:
        reference = f"locmem-{len(outbox) + 1}"
        outbox.append(SmsMessage(to=to, body=body, reference=reference))
        return reference


class TwilioSmsBackend(BaseSmsBackend):
    """Twilio's Messages API: POST {base}/2010-04-01/Accounts/{sid}/Messages.json with HTTP
    basic auth (account SID, auth token) and the form fields To, From and Body. Twilio answers
    201 with the message (its ``sid`` is our reference) or 4xx/5xx with ``code`` and
    ``message``. Twilio splits long texts into segments itself."""

    timeout_seconds = 15

    def __init__(
        self,
        *,
        account_sid: str | None = None,
        auth_token: str | None = None,
        sender: str | None = None,
        api_base: str | None = None,
    ):
        self.account_sid = account_sid or settings.TWILIO_ACCOUNT_SID
        self.auth_token = auth_token or settings.TWILIO_AUTH_TOKEN
        self.sender = sender or settings.TWILIO_FROM
        self.api_base = (api_base or settings.TWILIO_API_BASE).rstrip("/")
        if not (self.account_sid and self.auth_token and self.sender):
            raise ImproperlyConfigured(
                "TwilioSmsBackend needs TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM"
            )
        if urllib.parse.urlsplit(self.api_base).scheme not in {"https", "http"}:
            raise ImproperlyConfigured("TWILIO_API_BASE must be an http(s) URL")

    def send(self, *, to: str, body: str) -> str:
        url = f"{self.api_base}/2010-04-01/Accounts/{urllib.parse.quote(self.account_sid)}/Messages.json"
        credentials = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode("ascii")
        request = urllib.request.Request(  # noqa: S310 (scheme checked in __init__)
            url,
            data=urllib.parse.urlencode({"To": to, "From": self.sender, "Body": body}).encode(),
            headers={
                "Authorization": f"Basic {credentials}",
                "Content-Type": "application/x-www-form-urlencoded",
                "Accept": "application/json",
            },
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_seconds) as response:  # noqa: S310
                status, payload = response.status, _json(response.read())
        except urllib.error.HTTPError as exc:
            error = _json(exc.read())
            reason = f"{error.get('code', '')} {error.get('message', exc.reason)}".strip()
            raise SmsError(f"Twilio answered HTTP {exc.code}: {reason}") from exc
        except (urllib.error.URLError, TimeoutError) as exc:
            raise SmsError(f"Twilio could not be reached: {getattr(exc, 'reason', exc)}") from exc
        if not 200 <= status < 300:
            raise SmsError(f"Twilio answered HTTP {status}")
        if payload.get("status") == "failed" or not payload.get("sid"):
            raise SmsError(f"Twilio did not accept the message: {payload.get('error_message') or payload}")
        return payload["sid"]


def _json(raw: bytes) -> dict:
    try:
        value = json.loads(raw.decode("utf-8") or "{}")
    except (UnicodeDecodeError, json.JSONDecodeError):
        return {}
    return value if isinstance(value, dict) else {}


def get_sms_backend() -> BaseSmsBackend:
    return import_string(settings.SMS_BACKEND)()
