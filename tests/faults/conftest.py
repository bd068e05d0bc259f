"""Fixtures of the fault suite: a Stripe peer forgotten at the start of each test (the
reconciliation lists every intent the peer holds, and earlier tests' intents carry payment
ids a fresh test database reuses), and a line due for auto-renew with a saved card."""

from datetime import timedelta

import pytest
from django.utils import timezone

from payments.autorenew import line_auto_renew_set
from reseller.actors import Actor
from tests import stripe_peer as peer_side
from tests.factories import SimLineFactory
from tests.faults.processes import redis_server
from tests.payments.test_auto_renew import saved_card

ACTOR = Actor.system("fault suite")


@pytest.fixture
def fresh_peer(stripe_peer):
    peer_side.reset(stripe_peer.base_url)
    return stripe_peer


def line_due_for_auto_renew(plan, peer):
    """A line whose period ends in 20 hours, due for auto-renew with a saved Visa."""
    line = SimLineFactory(
        plan=plan,
        expires_at=timezone.now() + timedelta(hours=20),
        customer__currency="EUR",
        customer__timezone="Europe/Paris",
    )
    return line_auto_renew_set(
        line=line,
        enabled=True,
        plan=plan,
        method=saved_card(peer, line.customer),
        actor=ACTOR,
        reason="set by the fault suite",
    )


@pytest.fixture
def auto_line(plan, fresh_peer):
    return line_due_for_auto_renew(plan, fresh_peer)


@pytest.fixture
def broker(on_postgres):
    """A Redis server of this test's own, as broker (db 0) and result backend (db 1)."""
    with redis_server() as server:
        yield server


def renew_due_lines() -> int:
    """Beat's auto-renew job, in this process (tasks run in-process here): one task per line
    due, each charging its line. Returns how many lines it took up."""
    from payments.tasks import auto_renew_lines

    return auto_renew_lines()
