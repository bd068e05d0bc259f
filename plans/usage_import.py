"""Carrier usage files: apply the good rows, report the bad ones. The format and the rules are
in docs/usage-files.md; this module is the only writer of ``Usage`` and ``UsageImport``.

A file is imported in one transaction: a file that cannot be read (not UTF-8, not CSV, wrong
header) applies nothing, and a file that can be read applies its good rows together with its
report and audit entry. Rows are streamed and handled in chunks, so memory stays flat however
long the file is."""

import csv
import hashlib
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import Max
from django.utils.translation import gettext_lazy as _

from accounts.audit import audit_record
from accounts.models import SimLine
from plans.models import Renewal, Usage, UsageImport
from plans.renewals import renewals_start_at_first_use
from reseller.actors import Actor
from reseller.errors import DomainError

HEADER = ("iccid", "recorded_at", "data_bytes", "voice_minutes", "sms", "record_id")

#: Rows resolved, checked and inserted together: one ICCID query, one duplicate query and a
#: few INSERTs per chunk.
CHUNK_ROWS = 2_000

# Upper bounds of the Usage columns (PositiveBigIntegerField, PositiveIntegerField): a bigger
# number is a bad row, not a database error that would abort the whole file.
_MAX_VALUE = {"data_bytes": 2**63 - 1, "voice_minutes": 2**31 - 1, "sms": 2**31 - 1}
_RECORD_ID_MAX_LENGTH = Usage._meta.get_field("source_record_id").max_length
# Values quoted in a reason are cut here, so a garbage file cannot bloat the report.
_QUOTED_VALUE_MAX_LENGTH = 60

# pg_advisory_xact_lock key shared by every usage import ("usage" in ASCII).
_POSTGRES_LOCK_KEY = 0x7573_6167_65

#: Why a row was refused, by code. The report keeps the code and its parameters, so each reader
#: sees the reason in their own language (``rejected_row_reason``).
REASONS = {
    "field_count": _("The row has %(count)s fields; a usage row has 6."),
    "missing_field": _("%(field)s is empty."),
    "not_a_count": _("%(field)s must be a whole number, 0 or more: “%(value)s”."),
    "too_large": _("%(field)s is too large: %(value)s."),
    "bad_timestamp": _("recorded_at is not an ISO 8601 date and time: “%(value)s”."),
    "not_utc": _("recorded_at must be in UTC, ending in Z or +00:00: “%(value)s”."),
    "record_id_too_long": _("record_id is longer than %(max)s characters."),
    "unknown_iccid": _("No line has the ICCID %(iccid)s."),
    "conflicting_repeat": _("record_id %(record_id)s appears earlier in this file with different values."),
}


class UsageFileRejected(DomainError):
    """The file as a whole cannot be read; nothing was applied."""

    code = "usage_file_rejected"
    default_message = _("This usage file cannot be read.")


def rejected_row_reason(error: dict[str, Any]) -> str:
    """A rejected row's reason in the active language (the stored text is in the language of
    whoever imported the file)."""
    message = REASONS.get(error.get("code", ""))
    if message is None:
        return error.get("reason", "")
    return str(message % error.get("params", {}))


@transaction.atomic
def usage_import(*, file, filename: str, actor: Actor) -> UsageImport:
    """Import one carrier usage file (a binary file object, UTF-8 with or without BOM).

    Good rows become ``Usage`` rows; a row whose record id is already imported is a duplicate
    and changes nothing, so importing the same file again gives the same balances; bad rows
    are reported by line number and reason and not applied. Raises ``UsageFileRejected``
    (and applies nothing) when the file is empty, is not UTF-8 CSV or has the wrong header.

    Imports run one at a time (a database lock held until commit): duplicate counts are then
    exact even when the same file is sent twice at once, and the second import counts every
    row as a duplicate."""
    report = UsageImport.objects.create(
        filename=filename[:255],
        imported_by=actor.user if getattr(actor.user, "pk", None) else None,
        channel=actor.channel,
    )
    _wait_for_other_imports()
    # Rows above this id were inserted by this import: tells a record repeated inside the file
    # from one imported by an earlier file, without keeping every record id in memory.
    usage_id_floor = Usage.objects.aggregate(last=Max("pk"))["last"] or 0

    reader = _HashingReader(file)
    tally = _Tally()
    first_usage: dict[int, datetime] = {}
    for chunk in _chunks(_parse_rows(reader, tally)):
        inserted = _apply_chunk(chunk, tally, usage_id_floor)
        _note_first_usage(inserted, first_usage)
    for line_id, at in first_usage.items():
        renewals_start_at_first_use(line_id=line_id, at=at, actor=actor)

    report.sha256 = reader.sha256.hexdigest()
    report.rows_total = tally.total
    report.rows_applied = tally.applied
    report.rows_duplicate = tally.duplicate
    report.rows_rejected = tally.rejected
    report.errors = tally.errors
    report.errors_truncated = tally.rejected > len(tally.errors)
    report.save()
    audit_record(
        actor=actor,
        action="usage.imported",
        obj=report,
        changes={
            "filename": report.filename,
            "sha256": report.sha256,
            "rows_total": report.rows_total,
            "rows_applied": report.rows_applied,
            "rows_duplicate": report.rows_duplicate,
            "rows_rejected": report.rows_rejected,
        },
        reason=f"carrier usage file {report.filename}",
    )
    return report


def _wait_for_other_imports() -> None:
    # On PostgreSQL an advisory lock released at commit. SQLite has one writer at a time: the
    # UsageImport row created first already holds the database's write lock until commit.
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_POSTGRES_LOCK_KEY])


@dataclass(frozen=True, slots=True)
class _Row:
    line_number: int
    iccid: str
    recorded_at: datetime
    data_bytes: int
    voice_minutes: int
    sms: int
    record_id: str


@dataclass
class _Tally:
    total: int = 0
    applied: int = 0
    duplicate: int = 0
    rejected: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    # Rejections found while parsing, reported with the chunk's own so the list stays in
    # file order.
    pending: list[tuple[int, str, dict[str, Any]]] = field(default_factory=list)

    def reject(self, line_number: int, code: str, **params) -> None:
        self.pending.append((line_number, code, params))

    def flush_rejections(self) -> None:
        for line_number, code, params in sorted(self.pending, key=lambda item: item[0]):
            self.rejected += 1
            if len(self.errors) < UsageImport.MAX_ERRORS:
                self.errors.append(
                    {
                        "line": line_number,
                        "code": code,
                        "params": params,
                        "reason": str(REASONS[code] % params),
                    }
                )
        self.pending.clear()


class _HashingReader(io.RawIOBase):
    """The caller's binary file, read once: hashed on the way through to the CSV reader."""

    def __init__(self, file):
        super().__init__()
        self._file = file
        self.sha256 = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self._file.read(len(buffer))
        if isinstance(data, str):
            raise TypeError("usage_import needs a file opened in binary mode")
        size = len(data)
        buffer[:size] = data
        self.sha256.update(data)
        return size


def _parse_rows(reader: _HashingReader, tally: _Tally) -> Iterator[_Row]:
    """Well-formed rows, one at a time; malformed ones go to the tally. Line numbers are the
    file's (header = line 1), counted where a row starts even if a quoted field spans lines."""
    text = io.TextIOWrapper(io.BufferedReader(reader, 64 * 1024), encoding="utf-8-sig", newline="")
    rows = csv.reader(text, strict=True)
    lines_read = 0
    try:
        header = next(rows, None)
        if header is None:
            raise UsageFileRejected(_("The file is empty."))
        if tuple(name.strip().lower() for name in header) != HEADER:
            raise UsageFileRejected(
                _("The first line must be the header %(expected)s, not %(found)s.")
                % {"expected": ",".join(HEADER), "found": _quoted(",".join(header))}
            )
        lines_read = rows.line_num
        for fields in rows:
            line_number, lines_read = lines_read + 1, rows.line_num
            if not any(value.strip() for value in fields):
                continue  # blank line: not a row
            tally.total += 1
            row = _parse_row(line_number, fields, tally)
            if row is not None:
                yield row
    except UnicodeDecodeError as error:
        raise UsageFileRejected(
            _("The file is not UTF-8 text (near line %(line)s).") % {"line": lines_read + 1}
        ) from error
    except csv.Error as error:
        raise UsageFileRejected(
            _("Line %(line)s is not valid CSV: %(error)s") % {"line": lines_read + 1, "error": error}
        ) from error


def _parse_row(line_number: int, fields: list[str], tally: _Tally) -> _Row | None:
    if len(fields) != len(HEADER):
        tally.reject(line_number, "field_count", count=len(fields))
        return None
    values = dict(zip(HEADER, (value.strip() for value in fields), strict=True))
    for name in HEADER:
        if not values[name]:
            tally.reject(line_number, "missing_field", field=name)
            return None
    counts = {}
    for name, maximum in _MAX_VALUE.items():
        text = values[name]
        if not (text.isascii() and text.isdigit()):
            tally.reject(line_number, "not_a_count", field=name, value=_quoted(text))
            return None
        counts[name] = int(text)
        if counts[name] > maximum:
            tally.reject(line_number, "too_large", field=name, value=_quoted(text))
            return None
    try:
        recorded_at = datetime.fromisoformat(values["recorded_at"])
    except ValueError:
        tally.reject(line_number, "bad_timestamp", value=_quoted(values["recorded_at"]))
        return None
    # Carriers must send UTC: a local time (no zone) or another offset is refused, not guessed.
    if recorded_at.tzinfo is None or recorded_at.utcoffset() != timedelta(0):
        tally.reject(line_number, "not_utc", value=_quoted(values["recorded_at"]))
        return None
    if len(values["record_id"]) > _RECORD_ID_MAX_LENGTH:
        tally.reject(line_number, "record_id_too_long", max=_RECORD_ID_MAX_LENGTH)
        return None
    return _Row(
        line_number=line_number,
        iccid=values["iccid"],
        recorded_at=recorded_at.astimezone(UTC),
        record_id=values["record_id"],
        **counts,
    )


def _chunks(rows: Iterator[_Row]) -> Iterator[list[_Row]]:
    chunk: list[_Row] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == CHUNK_ROWS:
            yield chunk
            chunk = []
    # The last chunk may be empty: it still reports the rejections parsed after the last full one.
    yield chunk


def _apply_chunk(chunk: list[_Row], tally: _Tally, usage_id_floor: int) -> list[Usage]:
    line_ids = dict(SimLine.objects.filter(iccid__in={row.iccid for row in chunk}).values_list("iccid", "pk"))
    known = []
    for row in chunk:
        if row.iccid in line_ids:
            known.append(row)
        else:
            tally.reject(row.line_number, "unknown_iccid", iccid=_quoted(row.iccid))

    # Record ids already in the database: imported by an earlier file (a duplicate, whatever
    # its values) or by an earlier chunk of this one (a duplicate if identical, else refused).
    already_imported = {
        record_id: (pk, (line_id, recorded_at, data_bytes, voice_minutes, sms))
        for pk, record_id, line_id, recorded_at, data_bytes, voice_minutes, sms in Usage.objects.filter(
            source_record_id__in={row.record_id for row in known}
        ).values_list(
            "pk", "source_record_id", "line_id", "recorded_at", "data_bytes", "voice_minutes", "sms"
        )
    }
    new_in_chunk: dict[str, tuple] = {}
    to_insert = []
    for row in known:
        values = (line_ids[row.iccid], row.recorded_at, row.data_bytes, row.voice_minutes, row.sms)
        if row.record_id in new_in_chunk:
            earlier, from_this_file = new_in_chunk[row.record_id], True
        elif row.record_id in already_imported:
            pk, earlier = already_imported[row.record_id]
            from_this_file = pk > usage_id_floor
        else:
            new_in_chunk[row.record_id] = values
            to_insert.append(
                Usage(
                    line_id=values[0],
                    recorded_at=row.recorded_at,
                    data_bytes=row.data_bytes,
                    voice_minutes=row.voice_minutes,
                    sms=row.sms,
                    source_record_id=row.record_id,
                )
            )
            continue
        if from_this_file and values != earlier:
            tally.reject(row.line_number, "conflicting_repeat", record_id=_quoted(row.record_id))
        else:
            tally.duplicate += 1

    # Imports are serialized, so every row left is new; ignore_conflicts still keeps the
    # unique record id from aborting the file if something else wrote the same record.
    Usage.objects.bulk_create(to_insert, ignore_conflicts=True)
    tally.applied += len(to_insert)
    tally.flush_rejections()
    return to_insert


def _note_first_usage(inserted: list[Usage], first_usage: dict[int, datetime]) -> None:
    """Earliest new usage of each line that has a paid plan waiting for its first use: that
    plan's period starts then (plans.renewals.renewals_start_at_first_use). Across the whole
    file, so an unsorted file starts it at the true first record."""
    earliest: dict[int, datetime] = {}
    for usage in inserted:
        if usage.line_id not in earliest or usage.recorded_at < earliest[usage.line_id]:
            earliest[usage.line_id] = usage.recorded_at
    waiting = Renewal.objects.filter(
        line_id__in=earliest, status__in=Renewal.GRANTED_STATUSES, period_start__isnull=True
    ).values_list("line_id", flat=True)
    for line_id in set(waiting):
        if line_id not in first_usage or earliest[line_id] < first_usage[line_id]:
            first_usage[line_id] = earliest[line_id]


def _quoted(value: str) -> str:
    if len(value) <= _QUOTED_VALUE_MAX_LENGTH:
        return value
    return value[: _QUOTED_VALUE_MAX_LENGTH - 1] + "…"
