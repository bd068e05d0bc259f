"""Point the local Stripe peer's webhooks at this back office (the embedded default's demo).
Refuses to run against Stripe itself: real endpoints are set up in Stripe's dashboard."""

import json
import urllib.parse
import urllib.request

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Send the local Stripe peer's webhooks to URL, signed with STRIPE_WEBHOOK_SECRET."

    def add_arguments(self, parser):
        parser.add_argument("url")

    def handle(self, *args, url, **options):
        base = settings.STRIPE_API_BASE
        if not base.startswith(("http://127.0.0.1", "http://localhost")):
            raise CommandError("STRIPE_API_BASE must be the local Stripe peer (http://127.0.0.1:PORT).")
        data = urllib.parse.urlencode({"url": url, "secret": settings.STRIPE_WEBHOOK_SECRET}).encode()
        # The scheme and host were checked above: only the local peer over http.
        request = urllib.request.Request(f"{base}/_config/webhooks/backoffice", data=data, method="POST")  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                json.loads(response.read() or b"{}")
        except OSError as exc:
            raise CommandError(f"The Stripe peer at {base} did not answer: {exc}") from exc
        self.stdout.write(f"Stripe peer webhooks -> {url}")
