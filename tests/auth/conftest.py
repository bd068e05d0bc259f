import uuid

import pytest


@pytest.fixture(autouse=True)
def own_rate_limit_counters(settings):
    """Rate limits and used TOTP codes are counted in the Django cache (Redis when the test
    command finds it, shared by every test and every run): each test counts in its own key
    space, on the same backend."""
    settings.CACHES = {
        name: {**config, "KEY_PREFIX": f"test-{uuid.uuid4().hex}"} for name, config in settings.CACHES.items()
    }
