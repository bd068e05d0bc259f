"""Carrier usage files: good rows applied, bad rows reported by line and reason, records already
imported counted once, a file that cannot be read applies nothing."""

import hashlib
import io
import threading
import tracemalloc
from datetime import UTC, datetime

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import AuditEntry
from plans import usage_import as usage_import_module
from plans.balances import line_balance
from plans.models import Usage, UsageImport
from plans.usage_import import HEADER, UsageFileRejected, usage_import
from reseller.actors import Actor, Channel
from tests.factories import RenewalFactory, SimLineFactory, UserFactory

PERIOD_START = datetime(2026, 11, 1, tzinfo=UTC)
IN_PERIOD = "2026-11-23T08:15:00Z"

on_postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="race tests need PostgreSQL (set DATABASE_URL)"
)


HEADER_LINE = ",".join(HEADER)


def usage_file(*rows, header=HEADER_LINE, bom=False) -> io.BytesIO:
    """A CSV file as the carrier sends it: header line, then one line per row (tuples are
    joined with commas, strings are taken as they are)."""
    lines = [header, *(row if isinstance(row, str) else ",".join(str(v) for v in row) for row in rows)]
    data = ("\r\n".join(lines) + "\r\n").encode()
    return io.BytesIO((b"\xef\xbb\xbf" if bom else b"") + data)


@pytest.fixture
def line(db):
    line = SimLineFactory()
    RenewalFactory(line=line, period_start=PERIOD_START, data_mb=10_000, voice_minutes=100, sms=50)
    return line


@pytest.fixture
def other_line(db):
    line = SimLineFactory()
    RenewalFactory(line=line, period_start=PERIOD_START, data_mb=5_000)
    return line


@pytest.fixture
def billing_user(db):
    return UserFactory(username="billing-import", is_staff=True)


def run_import(file, actor=None, filename="usage-2026-11-23.csv"):
    return usage_import(file=file, filename=filename, actor=actor or Actor.system("tests"))


def counts(report):
    return (report.rows_total, report.rows_applied, report.rows_duplicate, report.rows_rejected)


def rejected(report):
    return [(error["line"], error["code"]) for error in report.errors]


def at(day_hour: str) -> datetime:
    return datetime.fromisoformat(day_hour).replace(tzinfo=UTC)


# ---------------------------------------------------------------- good files


def test_good_file_is_applied_with_a_report_and_an_audit_entry(line, other_line, billing_user):
    file = usage_file(
        (line.iccid, "2026-11-23T08:15:00Z", 1_500_000, 3, 1, "cdr-1"),
        (line.iccid, "2026-11-23T09:00:00+00:00", 500_000, 0, 2, "cdr-2"),
        (other_line.iccid, "2026-11-24T10:00:00Z", 2_000_000, 7, 0, "cdr-3"),
    )
    expected_sha256 = hashlib.sha256(file.getvalue()).hexdigest()

    report = run_import(file, actor=Actor.staff(billing_user))

    assert counts(report) == (3, 3, 0, 0)
    assert (report.errors, report.errors_truncated) == ([], False)
    assert (report.sha256, report.imported_by, report.channel) == (expected_sha256, billing_user, "admin")
    assert report.filename == "usage-2026-11-23.csv"
    usage = Usage.objects.get(source_record_id="cdr-2")
    assert (usage.line, usage.recorded_at, usage.data_bytes, usage.voice_minutes, usage.sms) == (
        line,
        at("2026-11-23T09:00"),
        500_000,
        0,
        2,
    )
    assert Usage.objects.filter(line=line).count() == 2
    assert Usage.objects.filter(line=other_line).count() == 1
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.actor_user, entry.object_id) == (
        "usage.imported",
        billing_user,
        str(report.pk),
    )
    assert entry.changes == {
        "filename": "usage-2026-11-23.csv",
        "sha256": expected_sha256,
        "rows_total": 3,
        "rows_applied": 3,
        "rows_duplicate": 0,
        "rows_rejected": 0,
    }


def test_the_same_file_imported_twice_gives_the_same_balances_and_only_duplicates(line):
    rows = [(line.iccid, f"2026-11-2{n}T08:00:00Z", 1_000_000, 2, 1, f"cdr-{n}") for n in range(1, 5)]

    first = run_import(usage_file(*rows))
    balance_after_first = line_balance(line, at=at("2026-11-30T00:00"))
    second = run_import(usage_file(*rows))
    balance_after_second = line_balance(line, at=at("2026-11-30T00:00"))

    assert counts(first) == (4, 4, 0, 0)
    assert counts(second) == (4, 0, 4, 0)
    assert Usage.objects.count() == 4
    assert balance_after_second == balance_after_first
    assert (balance_after_second.data_used_bytes, balance_after_second.voice_used_minutes) == (4_000_000, 8)
    assert UsageImport.objects.count() == 2
    assert AuditEntry.objects.filter(action="usage.imported").count() == 2


def test_a_record_already_imported_by_an_earlier_file_is_a_duplicate_not_an_error(line):
    run_import(usage_file((line.iccid, IN_PERIOD, 1_000, 0, 0, "cdr-1")))

    report = run_import(
        usage_file(
            (line.iccid, IN_PERIOD, 1_000, 0, 0, "cdr-1"),
            (line.iccid, IN_PERIOD, 2_000, 0, 0, "cdr-2"),
        )
    )

    assert counts(report) == (2, 1, 1, 0)
    assert Usage.objects.count() == 2


def test_a_file_with_a_bom_and_padded_header_is_read(line):
    report = run_import(
        usage_file(
            (line.iccid, IN_PERIOD, 10, 0, 0, "cdr-1"),
            header=" ICCID, recorded_at ,data_bytes,voice_minutes,sms,record_id",
            bom=True,
        )
    )

    assert counts(report) == (1, 1, 0, 0)


def test_blank_lines_are_not_rows(line):
    report = run_import(
        usage_file(
            "",
            (line.iccid, IN_PERIOD, 10, 0, 0, "cdr-1"),
            ",,,,,",
            (line.iccid, IN_PERIOD, 10, 0, 0, "cdr-2"),
        )
    )

    assert counts(report) == (2, 2, 0, 0)


# ---------------------------------------------------------------- bad rows


def test_bad_rows_are_reported_by_line_and_reason_and_good_rows_applied(line):
    long_id = "x" * 101
    report = run_import(
        usage_file(
            (line.iccid, IN_PERIOD, 100, 1, 1, "good-1"),  # line 2
            ("8933000000000000000", IN_PERIOD, 100, 1, 1, "cdr-unknown"),  # 3
            (line.iccid, IN_PERIOD, -5, 1, 1, "cdr-negative"),  # 4
            (line.iccid, IN_PERIOD, 100, "1.5", 1, "cdr-decimal"),  # 5
            (line.iccid, "23/11/2026 08:15", 100, 1, 1, "cdr-date"),  # 6
            (line.iccid, "2026-11-23T08:15:00", 100, 1, 1, "cdr-zoneless"),  # 7
            (line.iccid, "2026-11-23T09:15:00+01:00", 100, 1, 1, "cdr-paris"),  # 8
            (line.iccid, IN_PERIOD, "", 1, 1, "cdr-empty"),  # 9
            (line.iccid, IN_PERIOD, 100, 1, 1, ""),  # 10
            (line.iccid, IN_PERIOD, 100, 1),  # 11
            (line.iccid, IN_PERIOD, 100, 1, 1, long_id),  # 12
            (line.iccid, IN_PERIOD, 999, 1, 1, "good-1"),  # 13: same id, other values
            (line.iccid, IN_PERIOD, 100, 1, 1, "good-1"),  # 14: same id, same values
            (line.iccid, IN_PERIOD, 100, 2**31, 1, "cdr-huge"),  # 15
            (line.iccid, IN_PERIOD, 200, 0, 0, "good-2"),  # 16
        )
    )

    assert counts(report) == (15, 2, 1, 12)
    assert rejected(report) == [
        (3, "unknown_iccid"),
        (4, "not_a_count"),
        (5, "not_a_count"),
        (6, "bad_timestamp"),
        (7, "not_utc"),
        (8, "not_utc"),
        (9, "missing_field"),
        (10, "missing_field"),
        (11, "field_count"),
        (12, "record_id_too_long"),
        (13, "conflicting_repeat"),
        (15, "too_large"),
    ]
    reasons = {error["line"]: error["reason"] for error in report.errors}
    assert reasons[3] == "No line has the ICCID 8933000000000000000."
    assert reasons[4] == "data_bytes must be a whole number, 0 or more: “-5”."
    assert reasons[9] == "data_bytes is empty."
    assert reasons[10] == "record_id is empty."
    assert reasons[11] == "The row has 4 fields; a usage row has 6."
    assert reasons[13] == "record_id good-1 appears earlier in this file with different values."
    assert sorted(Usage.objects.values_list("source_record_id", "data_bytes")) == [
        ("good-1", 100),
        ("good-2", 200),
    ]


def test_zoneless_timestamp_is_refused(line):
    report = run_import(usage_file((line.iccid, "2026-11-23T08:15:00", 100, 0, 0, "cdr-1")))

    assert counts(report) == (1, 0, 0, 1)
    assert report.errors[0]["line"] == 2
    assert report.errors[0]["reason"] == (
        "recorded_at must be in UTC, ending in Z or +00:00: “2026-11-23T08:15:00”."
    )
    assert Usage.objects.count() == 0


def test_line_numbers_count_physical_lines_when_a_quoted_field_spans_two(line):
    report = run_import(
        usage_file(
            f'{line.iccid},{IN_PERIOD},1,0,0,"cdr\nsplit"',  # lines 2-3
            (line.iccid, IN_PERIOD, "x", 0, 0, "cdr-2"),  # line 4
        )
    )

    assert rejected(report) == [(4, "not_a_count")]


def test_the_error_list_stops_at_1000_entries_but_every_rejection_is_counted(line):
    rows = [("8933000000000000000", IN_PERIOD, 1, 0, 0, f"cdr-{n}") for n in range(1_001)]
    rows.append((line.iccid, IN_PERIOD, 1, 0, 0, "good"))

    report = run_import(usage_file(*rows))

    assert counts(report) == (1_002, 1, 0, 1_001)
    assert len(report.errors) == 1_000
    assert (report.errors[0]["line"], report.errors[-1]["line"]) == (2, 1_001)
    assert report.errors_truncated is True


# ---------------------------------------------------------------- files that cannot be read


def test_wrong_header_applies_nothing(line):
    file = usage_file((line.iccid, IN_PERIOD, 100, 0, 0, "cdr-1"), header="iccid,time,bytes,minutes,sms,id")

    with pytest.raises(UsageFileRejected) as excinfo:
        run_import(file)

    assert str(excinfo.value.message) == (
        "The first line must be the header iccid,recorded_at,data_bytes,voice_minutes,sms,record_id, "
        "not iccid,time,bytes,minutes,sms,id."
    )
    assert (Usage.objects.count(), UsageImport.objects.count(), AuditEntry.objects.count()) == (0, 0, 0)


def test_empty_file_is_refused(db):
    with pytest.raises(UsageFileRejected, match="The file is empty"):
        run_import(io.BytesIO(b""))

    assert UsageImport.objects.count() == 0


def test_a_file_that_is_not_utf8_applies_nothing_even_after_good_chunks(line, monkeypatch):
    monkeypatch.setattr(usage_import_module, "CHUNK_ROWS", 100)
    rows = [(line.iccid, IN_PERIOD, 1, 0, 0, f"cdr-{n:05d}") for n in range(3_000)]
    data = usage_file(*rows).getvalue() + "8933,2026-11-23T08:15:00Z,1,0,0,caf\xe9\r\n".encode("latin-1")

    with pytest.raises(UsageFileRejected, match="not UTF-8"):
        run_import(io.BytesIO(data))

    assert (Usage.objects.count(), UsageImport.objects.count(), AuditEntry.objects.count()) == (0, 0, 0)


# ---------------------------------------------------------------- big files


def test_a_20000_row_file_is_imported_in_chunks_with_bad_rows_and_repeats_across_chunks(line, other_line):
    rows = []
    for n in range(20_000):
        owner = line if n % 2 else other_line
        rows.append(
            (owner.iccid, f"2026-11-{1 + n % 28:02d}T{n % 24:02d}:00:00Z", 1_000 + n % 7, n % 3, 1, f"r{n}")
        )
    rows[4_500] = (line.iccid, "2026-11-05T08:00:00", 1, 0, 0, "zoneless")  # a bad row in chunk 3
    rows[9_000] = rows[3]  # same record again, in chunk 5: a duplicate
    rows[13_000] = (*rows[5][:2], 999_999, *rows[5][3:])  # record r5 again, other values
    expected_bytes = {
        line.pk: sum(
            r[2] for n, r in enumerate(rows) if r[0] == line.iccid and n not in (4_500, 9_000, 13_000)
        ),
        other_line.pk: sum(r[2] for n, r in enumerate(rows) if r[0] == other_line.iccid and n != 9_000),
    }

    with CaptureQueriesContext(connection) as ctx:
        report = run_import(usage_file(*rows))

    assert counts(report) == (20_000, 19_997, 1, 2)
    assert rejected(report) == [(4_502, "not_utc"), (13_002, "conflicting_repeat")]
    assert Usage.objects.count() == 19_997
    for line_id, total in expected_bytes.items():
        assert line_balance(line_id, at=at("2026-11-29T00:00")).data_used_bytes == total
    # One ICCID lookup per chunk of 2,000 rows: never one per row.
    line_lookups = [q for q in ctx.captured_queries if 'FROM "accounts_simline"' in q["sql"]]
    assert len(line_lookups) == 10


# ---------------------------------------------------------------- the command


def test_command_prints_the_report_and_lists_bad_rows(line, tmp_path):
    path = tmp_path / "usage.csv"
    path.write_bytes(
        usage_file(
            (line.iccid, IN_PERIOD, 1, 0, 0, "cdr-1"), (line.iccid, IN_PERIOD, -1, 0, 0, "cdr-2")
        ).getvalue()
    )
    out = io.StringIO()

    call_command("import_usage", str(path), stdout=out)

    report = UsageImport.objects.get()
    assert (counts(report), report.channel, report.imported_by) == ((2, 1, 0, 1), Channel.SYSTEM, None)
    assert "usage.csv" in out.getvalue()
    assert "2 rows, 1 applied, 0 already imported, 1 rejected." in out.getvalue()
    assert "line 3: data_bytes must be a whole number, 0 or more: “-1”." in out.getvalue()


def test_command_fails_on_a_wrong_header_and_applies_nothing(line, tmp_path):
    path = tmp_path / "usage.csv"
    path.write_bytes(usage_file((line.iccid, IN_PERIOD, 1, 0, 0, "cdr-1"), header="a,b,c").getvalue())

    with pytest.raises(CommandError, match="The first line must be the header"):
        call_command("import_usage", str(path), stdout=io.StringIO())

    assert (Usage.objects.count(), UsageImport.objects.count()) == (0, 0)


def test_command_fails_on_a_missing_file(db, tmp_path):
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("import_usage", str(tmp_path / "missing.csv"), stdout=io.StringIO())


# ---------------------------------------------------------------- concurrent imports


def _import_same_file_twice_at_once(data: bytes, monkeypatch, wait: float = 1) -> list[tuple[int, int]]:
    """Two workers import the same file at once. Each pauses just before inserting, until the
    other arrives too or ``wait`` seconds have passed: without serialization both have then
    checked for duplicates before either inserted."""
    arrived = threading.Barrier(2, timeout=wait)
    original_bulk_create = Usage.objects.bulk_create

    def bulk_create_when_both_checked(objs, **kwargs):
        try:
            arrived.wait()
        except threading.BrokenBarrierError:
            pass
        return original_bulk_create(objs, **kwargs)

    monkeypatch.setattr(Usage.objects, "bulk_create", bulk_create_when_both_checked)
    results = []

    def worker():
        try:
            report = run_import(io.BytesIO(data))
            results.append((report.rows_applied, report.rows_duplicate))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return sorted(results)


@on_postgresql_only
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_same_file_imported_twice_at_once_is_applied_once_and_counted_exactly(monkeypatch):
    line = SimLineFactory()
    data = usage_file(*[(line.iccid, IN_PERIOD, 1, 0, 0, f"cdr-{n}") for n in range(50)]).getvalue()

    results = _import_same_file_twice_at_once(data, monkeypatch)

    assert results == [(0, 50), (50, 0)]
    assert Usage.objects.count() == 50


@on_postgresql_only
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_control_without_the_import_lock_both_imports_claim_every_row(monkeypatch):
    # The same race with the lock removed: both imports see no existing record, both insert,
    # the unique record id keeps one copy of each, but both reports claim all 50 rows applied.
    monkeypatch.setattr(usage_import_module, "_wait_for_other_imports", lambda: None)
    line = SimLineFactory()
    data = usage_file(*[(line.iccid, IN_PERIOD, 1, 0, 0, f"cdr-{n}") for n in range(50)]).getvalue()

    # Both are sure to arrive here, so a long wait costs nothing and removes timing from the test.
    results = _import_same_file_twice_at_once(data, monkeypatch, wait=30)

    assert results == [(50, 0), (50, 0)]
    assert Usage.objects.count() == 50


def _peak_memory_of_import(data: bytes) -> int:
    tracemalloc.start()
    try:
        run_import(io.BytesIO(data))
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_stays_flat_as_the_file_grows(line, monkeypatch):
    # Rows are streamed and handled a chunk at a time: five times the rows, about the same
    # peak. Small chunks keep the test fast (tracemalloc slows Python down several times).
    monkeypatch.setattr(usage_import_module, "CHUNK_ROWS", 200)

    def rows(prefix, count):
        return [(line.iccid, IN_PERIOD, 1, 0, 0, f"{prefix}-{n}") for n in range(count)]

    peak_1000 = _peak_memory_of_import(usage_file(*rows("small", 1_000)).getvalue())
    peak_5000 = _peak_memory_of_import(usage_file(*rows("large", 5_000)).getvalue())

    assert Usage.objects.count() == 6_000
    assert peak_5000 < peak_1000 * 1.5, (peak_1000, peak_5000)


def test_a_first_use_plan_starts_at_the_lines_earliest_usage_in_the_file(db):
    from decimal import Decimal

    from plans.renewals import renewal_mark_paid, renewal_request
    from tests.factories import PlanFactory, PriceFactory

    plan = PlanFactory(code="cn-7d", validity_days=7, activation_policy="first_use")
    PriceFactory(plan=plan, currency="EUR", amount=Decimal("9.90"))
    line = SimLineFactory(plan=None, status="inactive", expires_at=None, customer__timezone="Asia/Shanghai")
    actor = Actor.system("tests")
    renewal = renewal_request(
        line=line, plan=plan, currency="EUR", channel="admin", idempotency_key="fu", actor=actor
    )
    with time_machine.travel(datetime(2026, 6, 25, tzinfo=UTC), tick=False):
        renewal_mark_paid(renewal_id=renewal.pk, actor=actor, reason="paid in a test")
    csv_text = (
        "iccid,recorded_at,data_bytes,voice_minutes,sms,record_id\n"
        f"{line.iccid},2026-07-01T09:00:00Z,1000,0,0,fu-2\n"
        f"{line.iccid},2026-07-01T06:30:00Z,1000,0,0,fu-1\n"
    )
    with time_machine.travel(datetime(2026, 7, 2, tzinfo=UTC), tick=False):
        usage_import(file=io.BytesIO(csv_text.encode()), filename="fu.csv", actor=actor)
    renewal.refresh_from_db()
    line.refresh_from_db()
    assert renewal.period_start == datetime(2026, 7, 1, 6, 30, tzinfo=UTC)
    assert renewal.period_end == datetime(2026, 7, 8, 6, 30, tzinfo=UTC)
    assert line.expires_at == renewal.period_end
