"""Shared fixtures: named personas for access tests (a manager, a support agent, a billing
agent, customers Alice and Bob, partners A and B)."""

import gettext
import shutil
import uuid
from decimal import Decimal

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.signals import setting_changed
from django.db import connection

from accounts.roles import BILLING, MANAGER, SUPPORT
from reseller.actors import Actor
from tests.auth.second_factor import give_totp, verified_email
from tests.factories import (
    CustomerFactory,
    PartnerFactory,
    PlanFactory,
    PriceFactory,
    SimLineFactory,
    UserFactory,
)


def _staff(username: str, role: str):
    """A staff member as they are in production: a verified e-mail and an authenticator app
    (sign them in with tests.auth.second_factor.login_staff)."""
    user = UserFactory(username=username, is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    verified_email(user)
    give_totp(user)
    return user


@pytest.fixture
def manager(db):
    return _staff("manager", MANAGER)


@pytest.fixture
def support_agent(db):
    return _staff("support", SUPPORT)


@pytest.fixture
def billing_agent(db):
    return _staff("billing", BILLING)


@pytest.fixture
def partner_a(db):
    return PartnerFactory(name="Agence A", code="agence-a")


@pytest.fixture
def partner_b(db):
    return PartnerFactory(name="Agency B", code="agency-b")


@pytest.fixture
def alice(db):
    user = UserFactory(username="alice")
    return CustomerFactory(user=user, full_name="Alice Martin", email="alice@example.com", language="fr")


@pytest.fixture
def bob(db):
    user = UserFactory(username="bob")
    return CustomerFactory(user=user, full_name="Bob 王", email="bob@example.com", language="zh-hans")


@pytest.fixture
def on_postgres(db):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (CI always has it; set DATABASE_URL locally)")


# A 30-day plan priced in EUR and CNY (retail) and EUR (partner), and a line on it.
@pytest.fixture
def plan(db):
    plan = PlanFactory(code="eu-30d-20gb", validity_days=30, data_mb=20_000, voice_minutes=100, sms=50)
    PriceFactory(plan=plan, currency="EUR", amount=Decimal("19.90"))
    PriceFactory(plan=plan, currency="CNY", amount=Decimal("155.00"))
    PriceFactory(plan=plan, currency="EUR", channel="partner", amount=Decimal("15.00"))
    return plan


@pytest.fixture
def line(db, plan):
    return SimLineFactory(plan=plan, customer__timezone="Europe/Paris")


@pytest.fixture
def staff_actor(billing_agent):
    return Actor.staff(billing_agent)


@pytest.fixture(scope="session")
def compiled_catalogues():
    """The fr and zh-Hans catalogues compiled from the .po files, with no stale copy cached."""
    if not shutil.which("msgfmt"):
        pytest.skip("gettext's msgfmt is not installed (apt-get install gettext)")
    call_command("compilemessages", verbosity=0, ignore=[".venv"])
    # A catalogue read earlier in this process stays cached, by Python's gettext and by
    # Django, with the texts of the .mo file as it was then.
    gettext._translations.clear()
    setting_changed.send(sender=None, setting="LOCALE_PATHS", value=settings.LOCALE_PATHS, enter=True)


# --- The local Stripe peer (scripts/stripe-peer): the real stripe library speaks HTTP to it ---


@pytest.fixture(scope="session")
def stripe_peer_process():
    from tests.stripe_peer import running_stripe_peer

    with running_stripe_peer() as peer:
        yield peer


@pytest.fixture
def stripe_peer(stripe_peer_process, settings):
    """Our settings pointed at the local Stripe peer."""
    settings.STRIPE_API_BASE = stripe_peer_process.base_url
    settings.STRIPE_SECRET_KEY = stripe_peer_process.secret_key
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    return stripe_peer_process


@pytest.fixture
def stripe_webhooks(stripe_peer, settings):
    """Every event the peer sends, signed with our webhook secret, kept for the test to deliver
    to our endpoint when (and as often, and in the order) it wants."""
    from tests.stripe_peer import configure_webhook, remove_webhook, webhook_inbox

    with webhook_inbox() as inbox:
        configure_webhook(stripe_peer.base_url, inbox.url, settings.STRIPE_WEBHOOK_SECRET)
        try:
            yield inbox
        finally:
            remove_webhook(stripe_peer.base_url)


@pytest.fixture(autouse=True)
def own_rate_limit_counters(settings):
    """Rate limits (sign-in, top-up, API) and used TOTP codes are counted in the Django cache
    (Redis when the test command finds it, shared by every test and every run): each test
    counts in its own key space, on the same backend."""
    settings.CACHES = {
        name: {**config, "KEY_PREFIX": f"test-{uuid.uuid4().hex}"} for name, config in settings.CACHES.items()
    }


@pytest.fixture(scope="module")
def browser():
    """Chromium in a thread of its own (tests.browser.BrowserThread), shared by a module's tests."""
    from tests.browser import BrowserThread

    browser = BrowserThread()
    yield browser
    browser.close()
