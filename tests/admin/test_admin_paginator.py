"""The admin's paginator never counts a whole table: small lists are counted exactly (a count
bounded by ADMIN_EXACT_COUNT_LIMIT), large ones are estimated by PostgreSQL, and an unfiltered
list of a large table asks only PostgreSQL's statistics (one query)."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Customer
from reseller.admin_tools import EstimatedCountPaginator
from tests.factories import CustomerFactory


def counted(queryset):
    with CaptureQueriesContext(connection) as ctx:
        total = EstimatedCountPaginator(queryset, 50).count
    return total, [q["sql"] for q in ctx.captured_queries]


def analyse():
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE accounts_customer")


@pytest.fixture
def on_postgres_statistics(on_postgres):
    """ANALYZE writes its statistics in place, outside the test's transaction: they outlive
    its rollback. Leave the table's statistics as empty as the table will be."""
    yield
    Customer.objects.all().delete()
    analyse()


def test_a_small_list_is_counted_exactly_with_a_bounded_count(db, settings):
    settings.ADMIN_EXACT_COUNT_LIMIT = 50
    CustomerFactory.create_batch(7)
    total, queries = counted(Customer.objects.all())
    assert total == 7
    counts = [sql for sql in queries if re.search(r"COUNT\(", sql, re.I)]
    assert counts and all("LIMIT" in sql.upper() for sql in counts)


def test_an_unfiltered_list_of_a_large_table_reads_only_the_statistics(on_postgres_statistics, settings):
    settings.ADMIN_EXACT_COUNT_LIMIT = 5
    CustomerFactory.create_batch(30)
    analyse()
    total, queries = counted(Customer.objects.all())
    assert total == 30  # ANALYZE of a small table counts every row
    assert len(queries) == 1 and "pg_class" in queries[0]


def test_a_filtered_large_list_is_bounded_then_estimated(on_postgres_statistics, settings):
    settings.ADMIN_EXACT_COUNT_LIMIT = 5
    CustomerFactory.create_batch(30, language="fr")
    analyse()
    total, queries = counted(Customer.objects.filter(language="fr"))
    assert total >= 6  # more than the limit: the planner's estimate, never below what was seen
    assert not any(
        re.search(r"COUNT\(\*\) FROM", sql, re.I) and "LIMIT" not in sql.upper() for sql in queries
    )
    assert any("EXPLAIN" in sql for sql in queries)


@pytest.mark.parametrize("rows", [3, 12])
def test_never_analysed_tables_fall_back_to_the_bounded_count(db, settings, rows):
    settings.ADMIN_EXACT_COUNT_LIMIT = 5
    CustomerFactory.create_batch(rows)
    total, _ = counted(Customer.objects.all())
    assert total == rows if rows <= 5 else total >= 6
