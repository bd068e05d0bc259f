"""Periods are counted in calendar days in the customer's own time zone: a 30-day plan bought
at 10:00 in Paris ends at 10:00 in Paris 30 days later, whatever a DST change in between does
to the number of hours."""

import math
import zoneinfo
from datetime import UTC, datetime, timedelta


def period_end(start: datetime, validity_days: int, time_zone: str) -> datetime:
    if start.tzinfo is None:
        raise ValueError("period starts are timezone-aware")
    zone = zoneinfo.ZoneInfo(time_zone)
    wall = start.astimezone(zone).replace(tzinfo=None) + timedelta(days=validity_days)
    # fold=0 (PEP 495): a wall time skipped by the spring change lands just past the gap, an
    # ambiguous autumn one takes its first occurrence. Neither shortens the period.
    return wall.replace(tzinfo=zone, fold=0).astimezone(UTC)


def wall_time_left(end: datetime, now: datetime, time_zone: str) -> timedelta:
    """Time from ``now`` to ``end`` as the customer's clock shows it: the hour a DST change
    skips or repeats does not count, so one day left means until the same time tomorrow."""
    zone = zoneinfo.ZoneInfo(time_zone)
    return end.astimezone(zone).replace(tzinfo=None) - now.astimezone(zone).replace(tzinfo=None)


def days_left(end: datetime, now: datetime, time_zone: str) -> int:
    """Days left on the customer's clock, counting a started day as a day (2.5 days: 3),
    never below 0."""
    return max(math.ceil(wall_time_left(end, now, time_zone) / timedelta(days=1)), 0)
