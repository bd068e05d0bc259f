"""How many SQL statements one auto-renewal costs, pinned: the per-line path runs a million
times a night, and every statement is a round trip (bench/RESULTS.md counted 49 before the
objects already loaded and locked were passed along instead of read again)."""

from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test.utils import CaptureQueriesContext

from payments.autorenew import auto_renew_line
from payments.models import Payment
from plans.models import Renewal
from tests.payments.test_auto_renew import auto_line  # noqa: F401 (a fixture)

#: Statements of one successful auto-renewal: 23 (one of them the renewal read again just
#: before the charge, which no lock holds), plus here the SAVEPOINT and RELEASE of its three
#: transactions (nested in the test's own; in production they are BEGIN and COMMIT).
MAX_STATEMENTS = 29


def test_one_auto_renewal_costs_a_bounded_number_of_statements(auto_line):  # noqa: F811
    for model in (Renewal, Payment):  # cached per process after the first renewal
        ContentType.objects.get_for_model(model)
    with CaptureQueriesContext(connection) as queries:
        payment = auto_renew_line(line_id=auto_line.pk, expires_at=auto_line.expires_at)
    assert payment.status == Payment.Status.SUCCEEDED
    assert Renewal.objects.get(line=auto_line, channel="auto_renew").status == Renewal.Status.PAID
    statements = [q["sql"] for q in queries.captured_queries]
    assert len(statements) <= MAX_STATEMENTS, "\n".join(statements)


def test_a_line_renewed_meanwhile_is_not_renewed_again_by_a_second_copy_of_its_task(auto_line):  # noqa: F811
    expiry = auto_line.expires_at
    assert auto_renew_line(line_id=auto_line.pk, expires_at=expiry).status == Payment.Status.SUCCEEDED
    with CaptureQueriesContext(connection) as queries:
        assert auto_renew_line(line_id=auto_line.pk, expires_at=expiry) is None
    assert len(queries.captured_queries) == 1  # the line, no longer due for that expiry
    assert Payment.objects.filter(renewal__line=auto_line).count() == 1
    assert Renewal.objects.filter(line=auto_line, channel="auto_renew").count() == 1


def test_the_job_queues_one_task_per_due_line_and_its_copies_charge_once(
    auto_line,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    from payments.autorenew import auto_renew_queue

    with django_capture_on_commit_callbacks(execute=True):
        assert auto_renew_queue() == 1  # queued; without a broker the task runs at once
    assert auto_renew_queue() == 0  # renewed: no longer due
    assert Payment.objects.filter(renewal__line=auto_line, status="succeeded").count() == 1
    assert Renewal.objects.get(line=auto_line, channel="auto_renew").status in Renewal.GRANTED_STATUSES
