"""API keys in the admin: a Manager issues a key and sees it once; it is stored hashed; other
roles cannot reach keys; revoking asks a reason."""

import hashlib
import re

import pytest
from django.test import Client

from accounts.models import AuditEntry
from api.models import ApiKey
from tests.api.conftest import ApiClient, issue
from tests.auth.second_factor import login_staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager_client(manager):
    client = Client()
    login_staff(client, manager)
    return client


def test_a_manager_issues_a_partner_key_and_sees_it_once(manager_client, partner_a, plan):
    response = manager_client.post(
        "/admin/api/apikey/add/",
        {"name": "booking site", "partner": partner_a.pk, "scope_read": "on", "scope_write": "on"},
    )
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    raw = re.search(r'<code id="api-key"[^>]*>([^<]+)</code>', response.content.decode()).group(1)
    key = ApiKey.objects.get()
    assert (key.partner, key.scopes) == (partner_a, frozenset({"read", "write"}))
    assert key.secret_sha256 == hashlib.sha256(raw.encode()).hexdigest()
    assert ApiClient(raw).get("/api/v1/plans/").status_code == 200
    # The key's own page never shows it again.
    page = manager_client.get(f"/admin/api/apikey/{key.pk}/change/").content.decode()
    assert key.prefix in page
    assert raw not in page


def test_a_manager_issues_a_staff_token(manager_client, support_agent):
    response = manager_client.post(
        "/admin/api/apikey/add/", {"name": "support desk", "user": support_agent.pk, "scope_read": "on"}
    )
    assert response.status_code == 200
    assert ApiKey.objects.get().user == support_agent


def test_a_key_for_both_a_partner_and_a_user_is_refused(manager_client, partner_a, support_agent):
    response = manager_client.post(
        "/admin/api/apikey/add/",
        {"name": "x", "partner": partner_a.pk, "user": support_agent.pk, "scope_read": "on"},
    )
    assert response.status_code == 200
    assert "not both" in response.content.decode()
    assert not ApiKey.objects.exists()


@pytest.mark.parametrize("persona", ["support_agent", "billing_agent"])
def test_other_roles_cannot_see_or_issue_keys(request, persona, partner_a):
    client = Client()
    login_staff(client, request.getfixturevalue(persona))
    issue(partner=partner_a)
    assert client.get("/admin/api/apikey/").status_code == 403
    response = client.post(
        "/admin/api/apikey/add/", {"name": "x", "partner": partner_a.pk, "scope_read": "on"}
    )
    assert response.status_code == 403
    assert ApiKey.objects.count() == 1


def test_revoking_keys_asks_a_reason_then_stops_them(manager_client, partner_a, plan):
    raw = issue(partner=partner_a)
    key = ApiKey.objects.get()
    confirm = manager_client.post("/admin/api/apikey/", {"action": "revoke", "_selected_action": [key.pk]})
    assert confirm.status_code == 200
    assert ApiKey.objects.get().revoked_at is None
    manager_client.post(
        "/admin/api/apikey/",
        {"action": "revoke", "_selected_action": [key.pk], "reason": "partner ended the contract"},
    )
    assert ApiKey.objects.get().revoked_at is not None
    assert AuditEntry.objects.get(action="api_key.revoked").reason == "partner ended the contract"
    assert ApiClient(raw).get("/api/v1/plans/").status_code == 401
