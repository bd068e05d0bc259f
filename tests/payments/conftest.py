import pytest

from tests.stripe_peer import running_stripe_peer


@pytest.fixture(scope="module")
def peer():
    """A Stripe peer of the module's own, for tests of the peer itself (they reset it freely,
    so they do not share the session's ``stripe_peer``)."""
    with running_stripe_peer() as peer:
        yield peer


@pytest.fixture(scope="module")
def stripe_client(peer):
    return peer.client(max_network_retries=0)
