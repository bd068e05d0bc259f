from datetime import UTC, datetime

import pytest

from notifications import sms
from notifications.models import NotificationLog

#: Tuesday 1 December 2026, 09:00 UTC (10:00 in Paris, 17:00 in Shanghai).
START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def sms_outbox():
    """SMS "sent" through the test profile's LocmemSmsBackend, emptied around each test."""
    sms.outbox.clear()
    yield sms.outbox
    sms.outbox.clear()


@pytest.fixture
def clock(time_machine):
    """The fake clock, stopped at START; ``clock.move_to(moment)`` moves it."""
    time_machine.move_to(START, tick=False)
    return time_machine


def logs(**filters) -> list[tuple[str, str]]:
    """(kind, channel) of the messages written, oldest first."""
    return list(NotificationLog.objects.filter(**filters).order_by("pk").values_list("kind", "channel"))
