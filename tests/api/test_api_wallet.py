"""The partner wallet through the API: renewals are paid from it (402 and nothing written when
it is short), a 402 is not kept under the Idempotency-Key, refunds credit it, its balance and
ledger are readable by the partner only; on PostgreSQL, concurrent renewals never take it
below zero and one key debits it once."""

from decimal import Decimal

import pytest
from django.db.models import Sum

from api.models import IdempotencyRecord
from payments.models import PartnerWallet, Payment, WalletEntry
from payments.wallet import wallet_top_up
from plans.models import Renewal
from reseller.actors import Actor
from tests.api.conftest import ApiClient, assert_problem, issue
from tests.concurrency import run_concurrently
from tests.factories import CustomerFactory, SimLineFactory

PRICE = Decimal("15.00")  # the plan's partner price in EUR


def top_up(partner, amount: str) -> None:
    wallet_top_up(
        partner=partner,
        amount=Decimal(amount),
        currency="EUR",
        actor=Actor.system("tests"),
        reason="transfer",
    )


def assert_ledger_matches(partner) -> Decimal:
    wallet = PartnerWallet.objects.get(partner=partner)
    assert wallet.balance == wallet.entries.aggregate(total=Sum("amount"))["total"]
    assert wallet.balance >= 0
    return wallet.balance


@pytest.mark.django_db
def test_a_partner_renewal_is_paid_from_the_wallet(api_a, partner_a, line_a):
    top_up(partner_a, "20.00")
    response = api_a.post("/api/v1/renewals/", {"line": line_a.pk, "plan": "eu-30d-20gb"})
    assert response.status_code == 201, response.content
    assert response.json()["status"] == "paid"
    payment = Payment.objects.get(renewal_id=response.json()["id"])
    assert (payment.method, payment.status, payment.amount) == ("partner_wallet", "succeeded", PRICE)
    assert assert_ledger_matches(partner_a) == Decimal("5.00")


@pytest.mark.django_db
def test_a_short_wallet_answers_402_with_balance_and_price_and_leaves_no_renewal(api_a, partner_a, line_a):
    top_up(partner_a, "10.00")
    response = api_a.post("/api/v1/renewals/", {"line": line_a.pk, "plan": "eu-30d-20gb"})
    body = assert_problem(response, 402, "insufficient_funds")
    assert "10.00 EUR" in body["detail"] and "15.00 EUR" in body["detail"]
    assert not Renewal.objects.exists() and not Payment.objects.exists()
    assert assert_ledger_matches(partner_a) == Decimal("10.00")


@pytest.mark.django_db
def test_a_partner_without_a_wallet_answers_402_with_its_own_code(api_a, line_a):
    response = api_a.post("/api/v1/renewals/", {"line": line_a.pk, "plan": "eu-30d-20gb"})
    body = assert_problem(response, 402, "no_wallet")
    assert "wallet" in body["detail"]
    assert not Renewal.objects.exists()


@pytest.mark.django_db
def test_a_402_is_not_kept_under_the_key_after_a_top_up_the_same_key_gets_the_renewal(
    api_a, partner_a, line_a
):
    body = {"line": line_a.pk, "plan": "eu-30d-20gb"}
    assert_problem(api_a.post("/api/v1/renewals/", body, key="renew-1"), 402, "no_wallet")
    assert not IdempotencyRecord.objects.exists()
    top_up(partner_a, "20.00")
    retry = api_a.post("/api/v1/renewals/", body, key="renew-1")
    assert retry.status_code == 201, retry.content
    again = api_a.post("/api/v1/renewals/", body, key="renew-1")
    assert again["Idempotent-Replayed"] == "true" and again.json() == retry.json()
    assert Renewal.objects.count() == 1 and WalletEntry.objects.filter(kind="renewal_debit").count() == 1
    assert assert_ledger_matches(partner_a) == Decimal("5.00")


@pytest.mark.django_db
def test_a_refund_of_a_wallet_renewal_through_the_api_credits_the_wallet(api_a, partner_a, line_a):
    top_up(partner_a, "20.00")
    renewal = api_a.post("/api/v1/renewals/", {"line": line_a.pk, "plan": "eu-30d-20gb"}).json()
    payment = Payment.objects.get(renewal_id=renewal["id"])
    response = api_a.post(
        "/api/v1/refunds/",
        {"payment": payment.pk, "amount": "15.00", "reason": "customer_request", "entitlement": "keep"},
    )
    assert response.status_code == 201, response.content
    assert response.json()["status"] == "succeeded"
    assert assert_ledger_matches(partner_a) == Decimal("20.00")
    assert WalletEntry.objects.filter(kind="refund_credit").count() == 1


# --- Reading the wallet ------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_partner_reads_its_wallet_balance_currency_and_threshold(api_a, partner_a):
    top_up(partner_a, "120.50")
    PartnerWallet.objects.filter(partner=partner_a).update(low_balance_threshold=Decimal("50"))
    body = api_a.get("/api/v1/wallet/").json()
    assert body["currency"] == "EUR"
    assert body["balance"] == {"amount": "120.50", "currency": "EUR"}
    assert body["low_balance_threshold"] == {"amount": "50.00", "currency": "EUR"}


@pytest.mark.django_db
def test_a_partner_pages_through_its_own_ledger_newest_first(api_a, api_b, partner_a, partner_b, line_a):
    top_up(partner_a, "20.00")
    top_up(partner_b, "99.00")
    api_a.post("/api/v1/renewals/", {"line": line_a.pk, "plan": "eu-30d-20gb"})
    first = api_a.get("/api/v1/wallet/entries/", {"page_size": 1}).json()
    assert [(e["kind"], e["amount"]["amount"], e["balance_after"]["amount"]) for e in first["results"]] == [
        ("renewal_debit", "-15.00", "5.00")
    ]
    assert first["results"][0]["renewal"] and first["results"][0]["payment"]
    second = api_a.client.get(first["next"], headers=api_a.headers).json()
    assert [(e["kind"], e["amount"]["amount"]) for e in second["results"]] == [("top_up", "20.00")]
    assert second["next"] is None
    # Partner B's ledger holds its own top-up only.
    assert [e["amount"]["amount"] for e in api_b.get("/api/v1/wallet/entries/").json()["results"]] == [
        "99.00"
    ]


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/v1/wallet/", "/api/v1/wallet/entries/"])
def test_a_partner_without_a_wallet_gets_404(api_a, path):
    assert_problem(api_a.get(path), 404, "no_wallet")


@pytest.mark.django_db
@pytest.mark.parametrize("client", ["api_support", "api_billing", "api_manager"])
@pytest.mark.parametrize("path", ["/api/v1/wallet/", "/api/v1/wallet/entries/"])
def test_staff_tokens_get_404_wallets_are_read_in_the_admin(request, client, path, partner_a):
    top_up(partner_a, "20.00")
    assert_problem(request.getfixturevalue(client).get(path), 404)


@pytest.mark.django_db
def test_reading_the_wallet_needs_the_read_scope(partner_a):
    top_up(partner_a, "20.00")
    refund_only = ApiClient(issue(partner=partner_a, scopes=("refund",)))
    assert_problem(refund_only.get("/api/v1/wallet/"), 403, "scope_missing")


# --- On PostgreSQL: real concurrency ---------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_ten_concurrent_posts_with_one_key_create_one_renewal_and_one_debit(on_postgres, partner_a, plan):
    line = SimLineFactory(customer=CustomerFactory(partner=partner_a), plan=plan)
    top_up(partner_a, "100.00")
    raw = issue(partner=partner_a)
    body = {"line": line.pk, "plan": "eu-30d-20gb"}

    def post(_index):
        return ApiClient(raw).post("/api/v1/renewals/", body, key="one-debit").status_code

    statuses = run_concurrently(post, 10)
    assert set(statuses) <= {201, 409} and 201 in statuses, statuses
    assert Renewal.objects.filter(line=line).count() == 1
    assert WalletEntry.objects.filter(kind="renewal_debit").count() == 1
    assert Payment.objects.count() == 1
    assert assert_ledger_matches(partner_a) == Decimal("85.00")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_renewals_never_take_the_wallet_below_zero(on_postgres, partner_a, plan):
    lines = [SimLineFactory(customer=CustomerFactory(partner=partner_a), plan=plan) for _ in range(8)]
    top_up(partner_a, "50.00")  # pays floor(50 / 15) = 3 renewals
    raw = issue(partner=partner_a)

    def post(index):
        response = ApiClient(raw).post("/api/v1/renewals/", {"line": lines[index].pk, "plan": "eu-30d-20gb"})
        return response.status_code, response.json().get("code")

    results = run_concurrently(post, len(lines))
    assert sorted(status for status, _code in results) == [201] * 3 + [402] * 5, results
    assert {code for status, code in results if status == 402} == {"insufficient_funds"}
    assert Renewal.objects.count() == 3 and Payment.objects.count() == 3
    assert assert_ledger_matches(partner_a) == Decimal("5.00")
