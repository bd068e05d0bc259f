"""Each object's History page shows its audit trail: changes by anyone, from any channel."""

from django.urls import reverse

from accounts.audit import audit_record
from reseller.actors import Actor
from tests.auth.second_factor import login_staff


def test_a_lines_history_shows_who_changed_what_and_why(client, support_agent, line):
    audit_record(
        actor=Actor.system("auto-renew"), action="line.auto_renew_off", obj=line, reason="grace over"
    )
    audit_record(
        actor=Actor.staff(support_agent),
        action="correction.applied",
        obj=line,
        changes={"data_mb": 500},
        reason="recorded by a test",
    )
    login_staff(client, support_agent)
    page = client.get(reverse("admin:accounts_simline_history", args=[line.pk])).content.decode()
    assert "line.auto_renew_off" in page and "grace over" in page
    assert "correction.applied" in page and "support" in page


def test_another_objects_entries_are_not_shown(client, support_agent, line):
    from tests.factories import SimLineFactory

    other = SimLineFactory()
    audit_record(actor=Actor.system("tests"), action="line.secret", obj=other, reason="recorded by a test")
    login_staff(client, support_agent)
    page = client.get(reverse("admin:accounts_simline_history", args=[line.pk])).content.decode()
    assert "line.secret" not in page and "Nothing recorded yet." in page


def test_history_of_a_missing_object_is_not_found(client, support_agent, db):
    login_staff(client, support_agent)
    assert client.get(reverse("admin:accounts_simline_history", args=[999999])).status_code == 404
