"""The audit log as CSV, streamed: rows are read from the database a chunk at a time (a
server-side cursor on PostgreSQL) and written out as they come, so exporting a million
entries takes the memory of one chunk, not of the whole log."""

import csv
import json
from collections.abc import Iterable, Iterator
from datetime import UTC

from django.db.models import QuerySet

COLUMNS = [
    ("occurred_at", "occurred_at (UTC)"),
    ("actor_kind", "actor_kind"),
    ("actor_label", "actor"),
    ("channel", "channel"),
    ("action", "action"),
    ("content_type__app_label", "app"),
    ("content_type__model", "model"),
    ("object_id", "object_id"),
    ("object_repr", "object"),
    ("changes", "changes"),
    ("reason", "reason"),
    ("request_id", "request_id"),
]
CHUNK_ROWS = 2_000
#: A cell starting with one of these is a formula to a spreadsheet: it is written as text.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class _Line:
    """A file-like object whose write() returns the line, for csv.writer to hand back."""

    def write(self, value: str) -> str:
        return value


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        value = json.dumps(value, ensure_ascii=False, sort_keys=True)
    elif hasattr(value, "isoformat"):
        value = value.astimezone(UTC).isoformat()
    value = str(value)
    return "'" + value if value.startswith(_FORMULA_START) else value


def audit_csv_lines(entries: QuerySet) -> Iterator[str]:
    """The header, then one CSV line per entry of ``entries``, in their order."""
    writer = csv.writer(_Line())
    yield writer.writerow([title for _, title in COLUMNS])
    rows: Iterable = entries.values_list(*[name for name, _ in COLUMNS]).iterator(chunk_size=CHUNK_ROWS)
    for row in rows:
        yield writer.writerow([_cell(value) for value in row])
