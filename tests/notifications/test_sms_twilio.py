"""The Twilio backend speaks Twilio's Messages API to a local peer over real HTTP: the path,
basic auth and form fields Twilio expects, its 201 answer and its error answers."""

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest
from django.core.exceptions import ImproperlyConfigured

from notifications.models import NotificationLog
from notifications.services import notification_send, notify
from notifications.sms import SmsError, TwilioSmsBackend
from tests.factories import SimLineFactory
from tests.notifications.conftest import START

SID = "AC0123456789abcdef0123456789abcdef"
TOKEN = "test-auth-token"
SENDER = "+33757000000"


class TwilioPeer(BaseHTTPRequestHandler):
    """Answers like Twilio: 201 and the message for a valid request; 401 for wrong
    credentials; 400 with Twilio's error body for an invalid "To" number."""

    received: list[dict] = []

    def do_POST(self):
        length = int(self.headers["Content-Length"])
        form = {key: values[0] for key, values in parse_qs(self.rfile.read(length).decode()).items()}
        self.received.append({"path": self.path, "auth": self.headers.get("Authorization"), "form": form})
        expected_auth = "Basic " + base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()
        if self.path != f"/2010-04-01/Accounts/{SID}/Messages.json":
            return self.answer(
                404, {"code": 20404, "message": "The requested resource was not found", "status": 404}
            )
        if self.headers.get("Authorization") != expected_auth:
            return self.answer(401, {"code": 20003, "message": "Authenticate", "status": 401})
        if self.headers.get("Content-Type") != "application/x-www-form-urlencoded":
            return self.answer(400, {"code": 20001, "message": "Bad content type", "status": 400})
        if not form.get("To", "").startswith("+33"):
            return self.answer(
                400,
                {
                    "code": 21211,
                    "message": f"The 'To' number {form.get('To')} is not a valid phone number.",
                    "more_info": "https://www.twilio.com/docs/errors/21211",
                    "status": 400,
                },
            )
        self.answer(
            201,
            {
                "sid": f"SM{len(self.received):032d}",
                "account_sid": SID,
                "to": form["To"],
                "from": form["From"],
                "body": form["Body"],
                "status": "queued",
                "num_segments": "1",
                "error_code": None,
                "error_message": None,
            },
        )

    def answer(self, status, payload):
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def twilio():
    TwilioPeer.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), TwilioPeer)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", TwilioPeer.received
    server.shutdown()
    server.server_close()


@pytest.fixture
def twilio_settings(settings, twilio):
    base, _ = twilio
    settings.SMS_BACKEND = "notifications.sms.TwilioSmsBackend"
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = SID, TOKEN
    settings.TWILIO_FROM, settings.TWILIO_API_BASE = SENDER, base
    return settings


def test_twilio_backend_posts_to_the_messages_api_with_basic_auth_and_form_fields(twilio_settings, twilio):
    _, received = twilio
    reference = TwilioSmsBackend().send(to="+33612345678", body="Votre ligne expire le 1 décembre à 10:00.")
    assert reference == "SM00000000000000000000000000000001"
    assert received == [
        {
            "path": f"/2010-04-01/Accounts/{SID}/Messages.json",
            "auth": "Basic " + base64.b64encode(f"{SID}:{TOKEN}".encode()).decode(),
            "form": {
                "To": "+33612345678",
                "From": SENDER,
                "Body": "Votre ligne expire le 1 décembre à 10:00.",
            },
        }
    ]


def test_twilio_errors_are_raised_with_twilios_code_and_message(twilio_settings, twilio):
    with pytest.raises(SmsError, match=r"HTTP 400: 21211 The 'To' number \+1555 is not a valid phone number"):
        TwilioSmsBackend().send(to="+1555", body="hello")
    with pytest.raises(SmsError, match="HTTP 401: 20003 Authenticate"):
        TwilioSmsBackend(auth_token="wrong").send(to="+33612345678", body="hello")


def test_an_unreachable_twilio_is_a_clear_error(twilio_settings):
    twilio_settings.TWILIO_API_BASE = "http://127.0.0.1:9"  # discard port: nobody answers
    with pytest.raises(SmsError, match="Twilio could not be reached"):
        TwilioSmsBackend().send(to="+33612345678", body="hello")


def test_twilio_needs_its_credentials(settings):
    settings.TWILIO_ACCOUNT_SID = ""
    with pytest.raises(ImproperlyConfigured, match="TWILIO_ACCOUNT_SID"):
        TwilioSmsBackend()


def test_an_sms_reminder_goes_out_through_twilio_and_keeps_its_reference(
    twilio_settings, twilio, plan, clock
):
    _, received = twilio
    line = SimLineFactory(
        plan=plan, expires_at=START.replace(hour=20), customer__email="", customer__language="fr"
    )
    [log] = notify(kind="expiry_1d", customer=line.customer, line=line, period_end=line.expires_at)
    assert notification_send(log_id=log.pk) == "sent"
    log.refresh_from_db()
    assert (log.status, log.provider_reference) == ("sent", "SM00000000000000000000000000000001")
    assert [(r["form"]["To"], r["form"]["Body"]) for r in received] == [(line.customer.phone, log.body)]


def test_an_sms_refused_by_twilio_is_marked_failed_with_twilios_reason(twilio_settings, plan, clock):
    line = SimLineFactory(plan=plan, expires_at=START.replace(hour=20), customer__email="")
    [log] = notify(kind="expiry_1d", customer=line.customer, line=line, period_end=line.expires_at)
    NotificationLog.objects.filter(pk=log.pk).update(recipient="+4915112345678")  # not what the peer accepts
    assert notification_send(log_id=log.pk) == "failed"
    log.refresh_from_db()
    assert log.status == "failed"
    assert "21211" in log.error
    assert log.provider_reference == ""
