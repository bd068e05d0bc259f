"""Webhook endpoints in the admin: a Manager adds one and sees its secret once, an http
address to another machine is refused, rotating the secret shows the new one once; the
deliveries list costs the same number of queries however many rows it shows."""

import re

import pytest
from django.test import Client

from accounts.models import AuditEntry
from tests.auth.second_factor import login_staff
from tests.webhooks.conftest import an_endpoint
from webhooks.models import WebhookEndpoint
from webhooks.outbox import webhook_event_emit

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager_client(manager):
    client = Client()
    login_staff(client, manager)
    return client


def shown_secret(response) -> str:
    return re.search(r'<code id="webhook-secret"[^>]*>([^<]+)</code>', response.content.decode()).group(1)


def test_a_manager_adds_an_endpoint_and_sees_its_secret_once(manager_client, partner_a):
    response = manager_client.post(
        "/admin/webhooks/webhookendpoint/add/",
        {
            "partner": partner_a.pk,
            "url": "https://agence-a.example.com/hooks",
            "event_types": ["line.renewed"],
        },
    )
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    endpoint = WebhookEndpoint.objects.get()
    assert shown_secret(response) == endpoint.secret
    assert endpoint.secret.startswith("whsec_")
    assert (endpoint.partner, endpoint.event_types, endpoint.is_active) == (partner_a, ["line.renewed"], True)
    page = manager_client.get(f"/admin/webhooks/webhookendpoint/{endpoint.pk}/change/").content.decode()
    assert "agence-a.example.com" in page
    assert endpoint.secret not in page
    assert AuditEntry.objects.filter(action="webhook_endpoint.created").count() == 1


@pytest.mark.parametrize(
    "url", ["http://agence-a.example.com/hooks", "ftp://agence-a.example.com/", "https:///nohost"]
)
def test_an_address_that_is_not_https_is_refused(manager_client, partner_a, url):
    response = manager_client.post(
        "/admin/webhooks/webhookendpoint/add/",
        {"partner": partner_a.pk, "url": url, "event_types": ["line.renewed"]},
    )
    assert response.status_code == 200
    assert not WebhookEndpoint.objects.exists()


def test_local_http_is_refused_in_production(settings, partner_a):
    from reseller.errors import DomainError

    assert an_endpoint(partner_a, "http://127.0.0.1:9000/hooks").endpoint.pk
    settings.WEBHOOK_ALLOW_LOCAL_HTTP = False
    with pytest.raises(DomainError):
        an_endpoint(partner_a, "http://127.0.0.1:9000/hooks")


def test_rotating_the_secret_shows_the_new_one_once(manager_client, partner_a):
    endpoint = an_endpoint(partner_a, "https://agence-a.example.com/hooks").endpoint
    old = endpoint.secret
    action = {"action": "rotate_secret", "_selected_action": [endpoint.pk]}
    assert "reason" in manager_client.post("/admin/webhooks/webhookendpoint/", action).content.decode()
    response = manager_client.post("/admin/webhooks/webhookendpoint/", {**action, "reason": "leaked"})
    endpoint.refresh_from_db()
    assert endpoint.secret != old
    assert shown_secret(response) == endpoint.secret
    assert AuditEntry.objects.get(action="webhook_endpoint.secret_rotated").reason == "leaked"


def test_the_deliveries_list_queries_do_not_grow_with_rows(
    manager_client, partner_a, django_assert_max_num_queries
):
    an_endpoint(partner_a, "https://agence-a.example.com/hooks")
    for number in range(30):
        webhook_event_emit(partner=partner_a, event_type="refund.failed", data={"refund": {"id": number}})
    with django_assert_max_num_queries(12):
        response = manager_client.get("/admin/webhooks/webhookdelivery/")
    assert response.status_code == 200
    assert response.content.decode().count("refund.failed") >= 30
