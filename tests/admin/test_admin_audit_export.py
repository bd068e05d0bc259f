"""Staff export the audit log as CSV, with the list's search and filters; the export streams,
so its memory does not grow with the number of entries."""

import csv
import io
import tracemalloc

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.audit_export import audit_csv_lines
from accounts.models import AuditEntry
from tests.auth.second_factor import login_staff
from tests.factories import UserFactory

EXPORT = "admin:accounts_auditentry_export"


def entries(count: int, **fields):
    now = timezone.now()
    AuditEntry.objects.bulk_create(
        [
            AuditEntry(
                occurred_at=now,
                actor_kind="staff",
                actor_label="billing",
                channel="admin",
                action=fields.get("action", "refund.requested"),
                object_id=str(n),
                object_repr=fields.get("object_repr", f"refund #{n}"),
                changes={"amount": "5.00", "currency": "EUR"},
                reason=fields.get("reason", "customer request"),
            )
            for n in range(count)
        ],
        batch_size=5_000,
    )


def read_csv(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(body)))


def test_billing_exports_what_the_list_shows(client, billing_agent, db):
    entries(3)
    entries(2, action="payment.succeeded")
    login_staff(client, billing_agent)
    response = client.get(reverse(EXPORT), {"q": "payment.succeeded"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = read_csv(response)
    assert rows[0][:5] == ["occurred_at (UTC)", "actor_kind", "actor", "channel", "action"]
    assert [row[4] for row in rows[1:]] == ["payment.succeeded"] * 2
    assert rows[1][9] == '{"amount": "5.00", "currency": "EUR"}'


def test_a_cell_that_a_spreadsheet_would_run_as_a_formula_is_written_as_text(client, billing_agent, db):
    entries(1, reason='=HYPERLINK("http://evil")', object_repr="+33 6 12")
    login_staff(client, billing_agent)
    row = read_csv(client.get(reverse(EXPORT)))[1]
    assert row[10] == '\'=HYPERLINK("http://evil")' and row[8] == "'+33 6 12"


def test_someone_without_access_to_the_log_cannot_export_it(client, db):
    login_staff(client, UserFactory(is_staff=True))
    assert client.get(reverse(EXPORT)).status_code in (302, 403)


def _peak_memory_of_export(count: int) -> int:
    tracemalloc.start()
    try:
        for _line in audit_csv_lines(AuditEntry.objects.order_by("pk")[:count]):
            pass
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.postgres
def test_the_export_streams_in_constant_memory(on_postgres):
    entries(50_000)
    small = _peak_memory_of_export(5_000)
    large = _peak_memory_of_export(50_000)
    assert large < small * 1.5, (small, large)
