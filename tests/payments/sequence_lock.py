"""What a payment writes after taking its receipt number: the year's sequence row stays locked
from the number to the commit, and every payment of the year waits for it meanwhile."""

from django.db import connection
from django.test.utils import CaptureQueriesContext


def assert_receipt_number_taken_last(pay) -> None:
    """``pay()`` writes, after its receipt number, only the payment's own row and its audit
    entry, and reads nothing (the content type is read once per process, then cached)."""
    with CaptureQueriesContext(connection) as queries:
        pay()
    statements = [q["sql"] for q in queries.captured_queries]
    first = next(i for i, sql in enumerate(statements) if "payments_receiptsequence" in sql)
    after = [sql for sql in statements[first:] if "payments_receiptsequence" not in sql]
    tables = {sql.split('"')[1] for sql in after if sql.startswith(("UPDATE", "INSERT"))}
    assert tables == {"payments_payment", "accounts_auditentry"}, after
    reads = [sql for sql in after if sql.startswith("SELECT") and "django_content_type" not in sql]
    assert not reads, after
