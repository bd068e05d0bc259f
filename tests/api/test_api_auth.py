"""Partner keys and staff tokens: how they are checked, revoked, limited to networks, and how
their last use is recorded."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import AuditEntry
from api.keys import api_key_check, api_key_issue, api_key_revoke
from api.models import ApiKey, PartnerNetwork
from reseller.actors import Actor
from tests.api.conftest import ApiClient, assert_problem, issue

pytestmark = pytest.mark.django_db


def test_a_key_is_stored_as_its_sha256_never_in_clear(partner_a):
    issued = api_key_issue(name="site", partner=partner_a, scopes={"read"}, actor=Actor.system("tests"))
    key = ApiKey.objects.get()
    assert issued.raw.startswith(f"{key.prefix}_")
    assert len(issued.raw) > 50
    assert issued.raw not in {key.prefix, key.secret_sha256}
    import hashlib

    assert key.secret_sha256 == hashlib.sha256(issued.raw.encode()).hexdigest()


def test_issuing_a_key_is_audited_with_its_owner_and_scopes(partner_a):
    api_key_issue(name="site", partner=partner_a, scopes={"read", "write"}, actor=Actor.system("tests"))
    entry = AuditEntry.objects.get(action="api_key.issued")
    assert entry.changes == {"owner": "agence-a", "scopes": ["read", "write"]}


def test_a_request_without_a_key_is_401_with_a_bearer_challenge(db):
    response = ApiClient().get("/api/v1/plans/")
    assert_problem(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


@pytest.mark.parametrize(
    "header",
    ["Bearer rsp_000000000000_not-a-real-secret", "Bearer nonsense", "Bearer a b"],
)
def test_an_unknown_or_malformed_key_is_401(db, header):
    response = ApiClient(Authorization=header).get("/api/v1/plans/")
    body = assert_problem(response, 401)
    assert body["code"] in {"invalid_api_key", "invalid_authorization"}


def test_a_key_with_a_wrong_secret_but_a_real_prefix_is_401(partner_a):
    issue(partner=partner_a)
    prefix = ApiKey.objects.get().prefix
    forged = f"{prefix}_{'x' * 43}"
    assert_problem(ApiClient(forged).get("/api/v1/plans/"), 401, "invalid_api_key")


def test_a_revoked_key_is_refused_at_its_next_request(partner_a, plan):
    raw = issue(partner=partner_a)
    client = ApiClient(raw)
    assert client.get("/api/v1/plans/").status_code == 200
    api_key_revoke(key=ApiKey.objects.get(), actor=Actor.system("tests"), reason="leaked in a log")
    assert_problem(client.get("/api/v1/plans/"), 401, "api_key_revoked")
    assert AuditEntry.objects.get(action="api_key.revoked").reason == "leaked in a log"


def test_a_suspended_partners_keys_are_refused(partner_a):
    raw = issue(partner=partner_a)
    partner_a.status = "suspended"
    partner_a.save()
    assert_problem(ApiClient(raw).get("/api/v1/plans/"), 403, "partner_inactive")


def test_a_staff_token_stops_working_when_its_user_leaves(support_agent):
    raw = issue(user=support_agent)
    support_agent.is_active = False
    support_agent.save()
    assert_problem(ApiClient(raw).get("/api/v1/plans/"), 401, "api_key_revoked")


def test_with_an_allow_list_only_listed_addresses_may_call(partner_a, plan):
    raw = issue(partner=partner_a)
    PartnerNetwork.objects.create(partner=partner_a, network="203.0.113.0/24")
    inside = ApiClient(raw)
    inside.client.defaults["REMOTE_ADDR"] = "203.0.113.9"
    assert inside.get("/api/v1/plans/").status_code == 200
    outside = ApiClient(raw)  # the test client calls from 127.0.0.1
    assert_problem(outside.get("/api/v1/plans/"), 403, "ip_not_allowed")


def test_a_partner_without_an_allow_list_may_call_from_anywhere(partner_a, plan):
    assert ApiClient(issue(partner=partner_a)).get("/api/v1/plans/").status_code == 200


def test_a_partner_key_without_an_allow_list_is_checked_in_one_query(partner_a, django_assert_num_queries):
    raw = issue(partner=partner_a)
    api_key_check(raw, remote_addr="198.51.100.7")  # the first use is written; the next not within a minute
    with django_assert_num_queries(1):
        key = api_key_check(raw, remote_addr="198.51.100.7")
    assert key.partner == partner_a


def test_last_use_is_written_at_most_once_a_minute(partner_a, plan, django_assert_num_queries):
    client = ApiClient(issue(partner=partner_a))
    client.get("/api/v1/plans/")
    key = ApiKey.objects.get()
    first = key.last_used_at
    assert first is not None
    client.get("/api/v1/plans/")
    key.refresh_from_db()
    assert key.last_used_at == first
    ApiKey.objects.filter(pk=key.pk).update(last_used_at=timezone.now() - timedelta(minutes=2))
    client.get("/api/v1/plans/")
    key.refresh_from_db()
    assert key.last_used_at > first


def test_staff_tokens_are_issued_to_active_staff_only(alice):
    from reseller.errors import DomainError

    with pytest.raises(DomainError):
        api_key_issue(name="x", user=alice.user, scopes={"read"}, actor=Actor.system("tests"))
    assert not ApiKey.objects.exists()


def test_partner_actions_are_audited_as_the_partner_and_its_key(api_a, partner_a):
    response = api_a.post("/api/v1/customers/", {"full_name": "Jeanne Dupont"})
    assert response.status_code == 201, response.content
    entry = AuditEntry.objects.get(action="customer.created")
    assert entry.actor_kind == "partner"
    assert entry.actor_partner == partner_a
    assert entry.channel == "api"
    assert entry.actor_label.startswith("agence-a (rsp_")


def test_staff_actions_are_audited_as_the_staff_user(api_support, support_agent):
    response = api_support.post("/api/v1/customers/", {"full_name": "Jeanne Dupont"})
    assert response.status_code == 201, response.content
    entry = AuditEntry.objects.get(action="customer.created")
    assert (entry.actor_kind, entry.actor_user, entry.channel) == ("staff", support_agent, "api")
