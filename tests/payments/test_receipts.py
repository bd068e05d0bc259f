"""Receipt numbers: consecutive per year with no gap and no duplicate, the year taken in the
business's zone, and a year's row locked so concurrent payments never share a number."""

import threading
from datetime import UTC, datetime

import pytest
from django.db import connection, transaction
from django.utils import timezone

from payments.models import ReceiptSequence
from payments.receipts import (
    format_receipt_number,
    receipt_number_next,
    receipt_numbers_reserve,
    receipt_year,
)


@pytest.fixture
def paris(settings):
    settings.TIME_ZONE = "Europe/Paris"


def test_format_pads_the_number_to_six_digits():
    assert format_receipt_number(2026, 42) == "R2026-000042"
    assert format_receipt_number(2027, 123_456) == "R2027-123456"


@pytest.mark.django_db
def test_reservations_continue_where_the_last_one_stopped_without_gaps():
    assert receipt_numbers_reserve(year=2031, count=3) == range(1, 4)
    assert receipt_numbers_reserve(year=2031, count=2) == range(4, 6)
    assert receipt_numbers_reserve(year=2032, count=1) == range(1, 2)
    assert receipt_numbers_reserve(year=2031, count=4) == range(6, 10)

    assert dict(ReceiptSequence.objects.values_list("year", "last_number")) == {2031: 9, 2032: 1}


@pytest.mark.django_db
def test_next_number_follows_the_reserved_blocks(paris):
    receipt_numbers_reserve(year=2031, count=2)

    first = receipt_number_next(paid_at=datetime(2031, 6, 1, 12, 0, tzinfo=UTC))
    second = receipt_number_next(paid_at=datetime(2031, 6, 1, 12, 5, tzinfo=UTC))

    assert (first, second) == ("R2031-000003", "R2031-000004")
    assert ReceiptSequence.objects.get(year=2031).last_number == 4


@pytest.mark.django_db
def test_a_rolled_back_reservation_gives_its_numbers_back():
    receipt_numbers_reserve(year=2031, count=2)
    with pytest.raises(RuntimeError), transaction.atomic():
        assert receipt_numbers_reserve(year=2031, count=5) == range(3, 8)
        raise RuntimeError("the payment could not be saved")

    assert receipt_numbers_reserve(year=2031, count=1) == range(3, 4)


@pytest.mark.django_db
@pytest.mark.parametrize("count", [0, -1])
def test_reserving_fewer_than_one_number_is_refused(count):
    with pytest.raises(ValueError, match="at least one"):
        receipt_numbers_reserve(year=2031, count=count)

    assert not ReceiptSequence.objects.exists()


def test_the_receipt_year_is_the_year_in_paris_not_in_utc(paris):
    # 23:30 UTC on 31 December is 00:30 on 1 January in Paris (UTC+1 in winter).
    assert receipt_year(datetime(2026, 12, 31, 23, 30, tzinfo=UTC)) == 2027
    # 23:30 in Paris on 31 December is still that year's, although UTC is 22:30 the same day;
    # and 22:59:59 UTC is the last second of the year in Paris.
    assert receipt_year(datetime(2026, 12, 31, 22, 30, tzinfo=UTC)) == 2026
    assert receipt_year(datetime(2026, 12, 31, 22, 59, 59, tzinfo=UTC)) == 2026
    assert receipt_year(datetime(2026, 12, 31, 23, 0, tzinfo=UTC)) == 2027


def test_the_viewers_activated_zone_does_not_move_the_receipt_year(paris):
    # A request from Shanghai (UTC+8) activates its zone; the books stay on Paris time.
    with timezone.override("Asia/Shanghai"):
        assert receipt_year(datetime(2026, 12, 31, 20, 0, tzinfo=UTC)) == 2026


def test_a_naive_payment_time_is_refused(paris):
    with pytest.raises(ValueError):
        receipt_year(datetime(2026, 12, 31, 23, 30))


@pytest.mark.django_db
def test_a_payment_late_on_new_years_eve_utc_gets_next_years_first_receipt(paris):
    receipt_numbers_reserve(year=2026, count=7)

    receipt = receipt_number_next(paid_at=datetime(2026, 12, 31, 23, 30, tzinfo=UTC))

    assert receipt == "R2027-000001"
    assert dict(ReceiptSequence.objects.values_list("year", "last_number")) == {2026: 7, 2027: 1}


# ---------------------------------------------------------------- real race on PostgreSQL

on_postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="race tests need PostgreSQL (set DATABASE_URL)"
)
WORKERS = 8
PER_WORKER = 5


def _in_threads(work, count: int) -> list:
    """Run ``work(number)`` in ``count`` threads that start together; return what each gave."""
    barrier = threading.Barrier(count)
    results, errors = [], []

    def worker(number: int):
        try:
            barrier.wait(timeout=10)
            results.append(work(number))
        except Exception as exc:  # reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()  # each thread has its own connection

    threads = [threading.Thread(target=worker, args=(number,)) for number in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    return results


@on_postgresql_only
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_eight_workers_reserving_at_once_get_forty_distinct_consecutive_numbers():
    # No row for the year yet: the workers also race to create it.
    assert not ReceiptSequence.objects.filter(year=2040).exists()

    blocks = _in_threads(lambda _: receipt_numbers_reserve(year=2040, count=PER_WORKER), WORKERS)

    assert len(blocks) == WORKERS
    assert all(len(block) == PER_WORKER and block.step == 1 for block in blocks)
    assert sorted(number for block in blocks for number in block) == list(range(1, 41))
    assert ReceiptSequence.objects.get(year=2040).last_number == WORKERS * PER_WORKER


@on_postgresql_only
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_control_without_the_row_lock_workers_hand_out_the_same_numbers():
    # The same reservation read without select_for_update: every worker reads the same last
    # number before any writes, so all of them hand out 1..5. This is the race the lock stops.
    ReceiptSequence.objects.create(year=2040, last_number=0)
    read_all = threading.Barrier(WORKERS)

    def reserve_without_lock(_):
        with transaction.atomic():
            sequence = ReceiptSequence.objects.get(year=2040)
            read_all.wait(timeout=10)
            first = sequence.last_number + 1
            sequence.last_number += PER_WORKER
            sequence.save(update_fields=["last_number"])
            return range(first, first + PER_WORKER)

    blocks = _in_threads(reserve_without_lock, WORKERS)

    assert blocks == [range(1, 6)] * WORKERS
    assert ReceiptSequence.objects.get(year=2040).last_number == PER_WORKER
