"""Receipt numbers: ``R<year>-<number>``, numbered from 1 each year with no gap and no number
issued twice, as French bookkeeping expects of invoices and receipts.

Each year's last number lives in one ``ReceiptSequence`` row. Reserving numbers locks that row
until the caller's transaction ends, so a rolled-back payment gives its number back instead
of leaving a hole, and two payments confirmed at once never share one.
"""

from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from payments.models import ReceiptSequence


def format_receipt_number(year: int, number: int) -> str:
    return f"R{year}-{number:06d}"


def receipt_year(paid_at: datetime) -> int:
    """The year a payment's receipt is numbered in: the calendar year in the business's zone
    (settings.TIME_ZONE, Europe/Paris), the one its books and tax returns use. A payment at
    23:30 in Paris on 31 December is that year's, although it is already 1 January in UTC;
    nor may the viewer's activated zone (a customer in Shanghai) move it."""
    return timezone.localtime(paid_at, timezone.get_default_timezone()).year


def receipt_numbers_reserve(*, year: int, count: int) -> range:
    """Reserve ``count`` consecutive receipt numbers of ``year``. The year's row stays locked
    until the caller's transaction ends, and a rollback undoes the reservation, so numbers are
    never skipped nor handed out twice: call it in the transaction that saves the payments."""
    if count < 1:
        raise ValueError(f"cannot reserve {count} receipt numbers; reserve at least one")
    # One statement: the first payment of a year creates its row, every later one moves it on;
    # either way the row stays locked to the commit. Run as late as possible in the caller's
    # transaction: every payment of the year queues on this row until that commit.
    table = connection.ops.quote_name(ReceiptSequence._meta.db_table)
    # In the caller's transaction (one of its own when there is none), without a savepoint.
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (year, last_number) VALUES (%s, %s) "  # noqa: S608 (our table's name)
            f"ON CONFLICT (year) DO UPDATE SET last_number = {table}.last_number + EXCLUDED.last_number "
            "RETURNING last_number",
            [year, count],
        )
        (last,) = cursor.fetchone()
    first = last - count + 1
    return range(first, first + count)


def receipt_number_next(*, paid_at: datetime) -> str:
    """The receipt number for one payment paid at ``paid_at``; call it in the transaction that
    saves the payment, for the reason given in ``receipt_numbers_reserve``."""
    year = receipt_year(paid_at)
    (number,) = receipt_numbers_reserve(year=year, count=1)
    return format_receipt_number(year, number)
