"""What is left on a line: the allowances of its current period, plus applied balance
corrections, minus the carrier usage recorded in that period.

Units: data allowances are in MB and usage in bytes, with 1 MB = 1,000,000 bytes, as carriers
bill (not 1,048,576). Byte counts are kept exact; MB figures are exact Decimals.

Only data depletes a line: a line with no minutes or SMS left still has data service, while
a line whose finite data allowance is used up is ``depleted`` (the carrier cuts data).
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_DOWN, Decimal

from django.db import connection
from django.utils import timezone

from accounts.models import Correction, SimLine
from plans.models import Renewal, Usage

BYTES_PER_MB = 1_000_000


@dataclass(frozen=True)
class LineBalance:
    """A line's balance at ``at``. Without a current period (``period_start`` is None) every
    allowance and use is 0 and the line is not ``depleted``: it has no entitlement at all,
    which is expiry, not depletion."""

    line_id: int
    at: datetime
    period_start: datetime | None
    period_end: datetime | None
    renewal_ids: tuple[int, ...]
    #: MB for the period, corrections included; None = unlimited data.
    data_allowance_mb: int | None
    voice_allowance_minutes: int
    sms_allowance: int
    data_used_bytes: int
    voice_used_minutes: int
    sms_used: int

    @property
    def has_period(self) -> bool:
        return self.period_start is not None

    @property
    def data_unlimited(self) -> bool:
        return self.has_period and self.data_allowance_mb is None

    @property
    def data_used_mb(self) -> Decimal:
        return _mb(self.data_used_bytes)

    @property
    def data_remaining_bytes(self) -> int | None:
        """None when unlimited; never below 0 (see ``data_over_bytes``)."""
        if self.data_unlimited:
            return None
        return max(self._data_allowance_bytes - self.data_used_bytes, 0)

    @property
    def data_remaining_mb(self) -> Decimal | None:
        remaining = self.data_remaining_bytes
        return None if remaining is None else _mb(remaining)

    @property
    def data_over_bytes(self) -> int:
        """How far usage went past a finite allowance (the carrier may report usage late)."""
        if self.data_unlimited:
            return 0
        return max(self.data_used_bytes - self._data_allowance_bytes, 0)

    @property
    def data_over_mb(self) -> Decimal:
        return _mb(self.data_over_bytes)

    @property
    def data_used_percent(self) -> Decimal | None:
        """Share of the data allowance used, to one decimal, rounded down; above 100 when over.
        None when unlimited or without a period. A zero allowance counts as fully used."""
        if not self.has_period or self.data_unlimited:
            return None
        allowance = self._data_allowance_bytes
        if allowance == 0:
            return Decimal(100)
        percent = Decimal(self.data_used_bytes * 100) / Decimal(allowance)
        return percent.quantize(Decimal("0.1"), rounding=ROUND_DOWN)

    @property
    def depleted(self) -> bool:
        """Finite data allowance used up. Minutes and SMS never deplete a line."""
        if not self.has_period or self.data_unlimited:
            return False
        return self.data_used_bytes >= self._data_allowance_bytes

    @property
    def voice_remaining_minutes(self) -> int:
        return max(self.voice_allowance_minutes - self.voice_used_minutes, 0)

    @property
    def sms_remaining(self) -> int:
        return max(self.sms_allowance - self.sms_used, 0)

    @property
    def _data_allowance_bytes(self) -> int:
        return (self.data_allowance_mb or 0) * BYTES_PER_MB


def _mb(byte_count: int) -> Decimal:
    return Decimal(byte_count) / BYTES_PER_MB


def line_balance(line: SimLine | int, *, at: datetime | None = None) -> LineBalance:
    """The balance of one line at ``at`` (default now): two queries, one without a period."""
    line_id = getattr(line, "pk", line)
    return line_balances([line_id], at=at)[line_id]


def line_balances(lines: Iterable[SimLine | int], *, at: datetime | None = None) -> dict[int, LineBalance]:
    """Balances of a page of lines, by line id, in two queries whatever the number of lines:
    the renewals granting a period that contains ``at``, then one aggregate of usage and
    balance corrections within each line's period."""
    at = at or timezone.now()
    line_ids = {getattr(line, "pk", line) for line in lines}
    periods = _current_periods(line_ids, at)
    used, corrected = _usage_and_corrections(periods)
    balances = {}
    for line_id in line_ids:
        period = periods.get(line_id)
        if period is None:
            balances[line_id] = LineBalance(
                line_id=line_id,
                at=at,
                period_start=None,
                period_end=None,
                renewal_ids=(),
                data_allowance_mb=0,
                voice_allowance_minutes=0,
                sms_allowance=0,
                data_used_bytes=0,
                voice_used_minutes=0,
                sms_used=0,
            )
            continue
        data_delta, voice_delta, sms_delta = corrected.get(line_id, (0, 0, 0))
        data_bytes, voice_minutes, sms = used.get(line_id, (0, 0, 0))
        balances[line_id] = LineBalance(
            line_id=line_id,
            at=at,
            period_start=period.start,
            period_end=period.end,
            renewal_ids=tuple(period.renewal_ids),
            data_allowance_mb=None if period.data_mb is None else max(period.data_mb + data_delta, 0),
            voice_allowance_minutes=max(period.voice_minutes + voice_delta, 0),
            sms_allowance=max(period.sms + sms_delta, 0),
            data_used_bytes=data_bytes,
            voice_used_minutes=voice_minutes,
            sms_used=sms,
        )
    return balances


@dataclass
class _Period:
    start: datetime
    end: datetime
    renewal_ids: list[int]
    data_mb: int | None  # None = unlimited
    voice_minutes: int
    sms: int


def _current_periods(line_ids: set[int], at: datetime) -> dict[int, _Period]:
    """Per line, the renewals whose [period_start, period_end) contains ``at``. An early
    renewal stacked after the current period does not count until its own period starts.
    Overlapping periods should not happen; if they do, their allowances add up and the period
    spans them all."""
    if not line_ids:
        return {}
    periods: dict[int, _Period] = {}
    renewals = (
        Renewal.objects.filter(
            line_id__in=line_ids, status__in=Renewal.GRANTED_STATUSES, period_start__lte=at, period_end__gt=at
        )
        .order_by("line_id", "period_start", "pk")
        .values_list("line_id", "pk", "period_start", "period_end", "data_mb", "voice_minutes", "sms")
    )
    for line_id, pk, start, end, data_mb, voice_minutes, sms in renewals:
        period = periods.get(line_id)
        if period is None:
            periods[line_id] = _Period(start, end, [pk], data_mb, voice_minutes, sms)
            continue
        period.start, period.end = min(period.start, start), max(period.end, end)
        period.renewal_ids.append(pk)
        period.data_mb = None if period.data_mb is None or data_mb is None else period.data_mb + data_mb
        period.voice_minutes += voice_minutes
        period.sms += sms
    return periods


def _usage_and_corrections(
    periods: dict[int, _Period],
) -> tuple[dict[int, tuple[int, int, int]], dict[int, tuple[int, int, int]]]:
    """One query: usage sums (bytes, minutes, SMS) recorded in each line's period, UNION ALL the
    deltas (MB, minutes, SMS) of balance corrections applied in it.

    The periods are a VALUES table joined to both: the statement stays small whatever the
    number of lines. Written with the ORM as one OR'd condition per line, building and
    compiling it cost about 0.7 ms of Python per line (35 ms for an API page of 50 lines),
    ten times what the database then spends running it."""
    if not periods:
        return {}, {}
    adapt = connection.ops.adapt_datetimefield_value  # as the ORM would pass them (SQLite: UTC text)
    values = ", ".join(["(%s, %s, %s)"] * len(periods))
    params = [
        value
        for line_id, period in periods.items()
        for value in (line_id, adapt(period.start), adapt(period.end))
    ]
    sql = f"""
        WITH periods (line_id, period_start, period_end) AS (VALUES {values})
        SELECT u.line_id, 'usage', SUM(u.data_bytes), SUM(u.voice_minutes), SUM(u.sms)
          FROM {Usage._meta.db_table} u
          JOIN periods p ON u.line_id = p.line_id
                        AND u.recorded_at >= p.period_start AND u.recorded_at < p.period_end
         GROUP BY u.line_id
        UNION ALL
        SELECT c.line_id, 'correction', SUM(c.data_mb_delta), SUM(c.voice_minutes_delta), SUM(c.sms_delta)
          FROM {Correction._meta.db_table} c
          JOIN periods p ON c.line_id = p.line_id
                        AND c.decided_at >= p.period_start AND c.decided_at < p.period_end
         WHERE c.kind = %s AND c.status = %s
         GROUP BY c.line_id"""  # noqa: S608 (table names from the models; every value is a parameter)
    used: dict[int, tuple[int, int, int]] = {}
    corrected: dict[int, tuple[int, int, int]] = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, Correction.Kind.BALANCE, Correction.Status.APPLIED])
        for line_id, source, data_total, voice_total, sms_total in cursor.fetchall():
            totals = (int(data_total), int(voice_total), int(sms_total))
            (used if source == "usage" else corrected)[line_id] = totals
    return used, corrected
