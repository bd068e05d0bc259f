"""Staff read what customers were told; only those allowed may have failed messages resent."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.roles import BILLING, MANAGER, SUPPORT
from notifications.models import NotificationLog
from notifications.services import notify
from tests.auth.second_factor import login_staff
from tests.factories import SimLineFactory
from tests.notifications.conftest import START

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:notifications_notificationlog_changelist")


def written(count, status="sent", **line_options):
    """``count`` 1-day reminders (e-mail and SMS each), marked with ``status``."""
    logs = []
    for _ in range(count):
        line = SimLineFactory(expires_at=START.replace(hour=20), **line_options)
        logs += notify(kind="expiry_1d", customer=line.customer, line=line, period_end=line.expires_at)
    ids = [log.pk for log in logs]
    if status == "sent":
        NotificationLog.objects.filter(pk__in=ids).update(status="sent", sent_at=START, attempts=1)
    elif status == "failed":
        NotificationLog.objects.filter(pk__in=ids).update(status="failed", attempts=8, error="SMTP down")
    return NotificationLog.objects.filter(pk__in=ids).order_by("pk")


@pytest.mark.parametrize("role", [SUPPORT, BILLING, MANAGER])
def test_every_role_may_read_notifications_and_only_managers_resend_them(role):
    group = Group.objects.get(name=role)
    codes = set(
        group.permissions.filter(content_type__app_label="notifications").values_list("codename", flat=True)
    )
    expected = (
        {"view_notificationlog", "change_notificationlog"} if role == MANAGER else {"view_notificationlog"}
    )
    assert codes == expected


@pytest.mark.parametrize("persona", ["support_agent", "billing_agent", "manager"])
def test_staff_see_the_changelist_and_a_message(client, request, clock, persona):
    log = written(1)[0]
    login_staff(client, request.getfixturevalue(persona))
    response = client.get(CHANGELIST)
    assert response.status_code == 200
    assert log.recipient in response.content.decode()
    response = client.get(reverse("admin:notifications_notificationlog_change", args=[log.pk]))
    assert response.status_code == 200
    assert log.body.split("\n")[0] in response.content.decode()


def test_nobody_adds_or_deletes_a_notification_in_the_admin(client, manager, clock):
    log = written(1)[0]
    login_staff(client, manager)
    assert client.get(reverse("admin:notifications_notificationlog_add")).status_code == 403
    assert client.get(reverse("admin:notifications_notificationlog_delete", args=[log.pk])).status_code == 403


def test_search_finds_a_recipient_by_exact_address_only(client, support_agent, clock):
    logs = written(2, customer__phone="")
    login_staff(client, support_agent)
    response = client.get(CHANGELIST, {"q": logs[0].recipient})
    assert list(response.context["cl"].result_list) == [logs[0]]
    response = client.get(CHANGELIST, {"q": logs[0].recipient[:5]})
    assert list(response.context["cl"].result_list) == []


def test_changelist_queries_do_not_grow_with_rows(client, manager, clock, django_assert_max_num_queries):
    written(3)
    login_staff(client, manager)
    client.get(CHANGELIST)
    with CaptureQueriesContext(connection) as few:
        assert client.get(CHANGELIST).status_code == 200
    written(30)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(CHANGELIST).status_code == 200


def test_a_manager_resends_failed_messages_and_only_those(
    client, manager, clock, django_capture_on_commit_callbacks, mailoutbox, sms_outbox
):
    failed = written(1, status="failed")
    sent = written(1)
    login_staff(client, manager)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            CHANGELIST,
            {"action": "resend", "_selected_action": [log.pk for log in [*failed, *sent]]},
            follow=True,
        )
    assert response.status_code == 200
    assert "Messages to send again: 2." in response.content.decode()
    # Beyond the automatic tries (8 already): staff asked for it.
    assert list(
        NotificationLog.objects.filter(pk__in=[log.pk for log in failed]).values_list("status", "attempts")
    ) == [
        ("sent", 9),
        ("sent", 9),
    ]
    assert len(mailoutbox) == 1
    assert len(sms_outbox) == 1


def test_support_has_no_resend_action_and_cannot_post_it(
    client, support_agent, clock, django_capture_on_commit_callbacks, mailoutbox
):
    failed = written(1, status="failed")
    login_staff(client, support_agent)
    response = client.get(CHANGELIST)
    assert 'value="resend"' not in response.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            CHANGELIST, {"action": "resend", "_selected_action": [log.pk for log in failed]}
        )
    assert set(NotificationLog.objects.values_list("status", flat=True)) == {"failed"}
    assert mailoutbox == []


def test_resend_permission_is_the_change_permission(client, support_agent, clock):
    support_agent.user_permissions.add(
        Permission.objects.get(content_type__app_label="notifications", codename="change_notificationlog")
    )
    written(1, status="failed")
    login_staff(client, support_agent)
    assert 'value="resend"' in client.get(CHANGELIST).content.decode()
