"""Partners' prepaid wallets: Managers top them up, partner renewals are paid from them, refunds
go back to them; the balance is always the sum of the ledger and never below zero."""

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.db.models import Sum

from accounts.models import AuditEntry
from payments.models import PartnerWallet, Payment, Refund, WalletEntry
from payments.refunds import refund_request
from payments.wallet import InsufficientFunds, wallet_pay_renewal, wallet_top_up
from plans.models import Renewal
from plans.renewals import renewal_request
from reseller.actors import Actor
from reseller.errors import DomainError
from tests.auth.second_factor import login_staff
from tests.concurrency import run_concurrently
from tests.factories import CustomerFactory, PartnerFactory, SimLineFactory
from tests.payments.sequence_lock import assert_receipt_number_taken_last

PRICE = Decimal("15.00")  # the plan's partner price in EUR


@pytest.fixture
def as_manager(manager):
    return Actor.staff(manager)


@pytest.fixture
def as_partner(partner_a):
    return Actor.for_partner(partner_a)


@pytest.fixture
def partner_line(partner_a, plan):
    return SimLineFactory(customer=CustomerFactory(partner=partner_a), plan=plan)


def a_partner_renewal(line, actor, key="r1", currency="EUR"):
    return renewal_request(
        line=line, plan=line.plan, currency=currency, channel="partner_api", idempotency_key=key, actor=actor
    )


def assert_ledger_matches(wallet):
    wallet.refresh_from_db()
    total = wallet.entries.aggregate(total=Sum("amount"))["total"] or Decimal(0)
    assert wallet.balance == total
    last = wallet.entries.order_by("-id").first()
    assert last is None or last.balance_after == wallet.balance
    assert wallet.balance >= 0


@pytest.mark.django_db
def test_a_first_top_up_opens_the_wallet_in_the_partners_currency(partner_a, as_manager):
    entry = wallet_top_up(
        partner=partner_a, amount=Decimal("100.00"), currency="EUR", actor=as_manager, reason="transfer T-1"
    )
    wallet = PartnerWallet.objects.get(partner=partner_a)
    assert (wallet.currency, wallet.balance) == ("EUR", Decimal("100.00"))
    assert (entry.kind, entry.amount, entry.balance_after) == ("top_up", Decimal("100.00"), Decimal("100.00"))
    assert entry.reason == "transfer T-1" and entry.created_by_id == as_manager.user.pk
    assert AuditEntry.objects.filter(action="wallet.topped_up", reason="transfer T-1").count() == 1
    wallet_top_up(partner=partner_a, amount=Decimal("5.50"), currency="EUR", actor=as_manager, reason="T-2")
    assert_ledger_matches(wallet)
    assert wallet.balance == Decimal("105.50")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "amount, currency, reason, code",
    [
        (Decimal("0"), "EUR", "x", "amount"),
        (Decimal("-5"), "EUR", "x", "amount"),
        (Decimal("1.001"), "EUR", "x", "amount"),
        (Decimal("10"), "USD", "x", "currency"),
        (Decimal("10"), "EUR", "  ", "reason"),
    ],
)
def test_a_bad_top_up_is_refused_and_changes_nothing(partner_a, as_manager, amount, currency, reason, code):
    wallet_top_up(partner=partner_a, amount=Decimal("10"), currency="EUR", actor=as_manager, reason="first")
    with pytest.raises(DomainError) as refused:
        wallet_top_up(partner=partner_a, amount=amount, currency=currency, actor=as_manager, reason=reason)
    assert refused.value.code == code
    wallet = PartnerWallet.objects.get(partner=partner_a)
    assert wallet.balance == Decimal("10") and wallet.entries.count() == 1
    assert_ledger_matches(wallet)


@pytest.mark.django_db
def test_only_managers_top_up_a_wallet(partner_a, billing_agent):
    with pytest.raises(DomainError) as refused:
        wallet_top_up(
            partner=partner_a,
            amount=Decimal("10"),
            currency="EUR",
            actor=Actor.staff(billing_agent),
            reason="x",
        )
    assert refused.value.code == "forbidden"
    assert not PartnerWallet.objects.exists()


@pytest.mark.django_db
def test_a_renewal_paid_from_the_wallet_debits_it_records_a_payment_with_a_receipt_and_grants_the_period(
    partner_a, partner_line, as_manager, as_partner
):
    wallet_top_up(partner=partner_a, amount=Decimal("40.00"), currency="EUR", actor=as_manager, reason="T-1")
    renewal = a_partner_renewal(partner_line, as_partner)
    payment = wallet_pay_renewal(renewal=renewal, actor=as_partner)
    assert (payment.method, payment.status, payment.amount) == ("partner_wallet", "succeeded", PRICE)
    assert payment.receipt_number.startswith("R") and payment.paid_at
    renewal.refresh_from_db()
    assert renewal.status in Renewal.GRANTED_STATUSES
    debit = WalletEntry.objects.get(kind="renewal_debit")
    assert (debit.amount, debit.renewal_id, debit.payment_id) == (-PRICE, renewal.pk, payment.pk)
    wallet = PartnerWallet.objects.get(partner=partner_a)
    assert wallet.balance == Decimal("25.00")
    assert_ledger_matches(wallet)
    assert AuditEntry.objects.filter(action="renewal.paid", object_id=str(renewal.pk)).exists()


def test_a_wallet_renewal_takes_its_receipt_number_last_so_the_years_sequence_is_locked_briefly(
    partner_a, partner_line, as_manager, as_partner
):
    wallet_top_up(partner=partner_a, amount=Decimal("40.00"), currency="EUR", actor=as_manager, reason="T-1")
    renewal = a_partner_renewal(partner_line, as_partner)
    assert_receipt_number_taken_last(lambda: wallet_pay_renewal(renewal=renewal, actor=as_partner))


@pytest.mark.django_db
def test_paying_a_renewal_again_changes_nothing(partner_a, partner_line, as_manager, as_partner):
    wallet_top_up(partner=partner_a, amount=Decimal("40.00"), currency="EUR", actor=as_manager, reason="T-1")
    renewal = a_partner_renewal(partner_line, as_partner)
    first = wallet_pay_renewal(renewal=renewal, actor=as_partner)
    again = wallet_pay_renewal(renewal=renewal, actor=as_partner)
    assert again == first
    assert Payment.objects.count() == 1 and WalletEntry.objects.filter(kind="renewal_debit").count() == 1
    assert PartnerWallet.objects.get().balance == Decimal("25.00")


@pytest.mark.django_db
def test_too_little_in_the_wallet_is_a_402_naming_balance_and_price_and_writes_nothing(
    partner_a, partner_line, as_manager, as_partner
):
    wallet_top_up(partner=partner_a, amount=Decimal("14.99"), currency="EUR", actor=as_manager, reason="T-1")
    renewal = a_partner_renewal(partner_line, as_partner)
    audits = AuditEntry.objects.count()
    with pytest.raises(InsufficientFunds) as refused:
        wallet_pay_renewal(renewal=renewal, actor=as_partner)
    assert refused.value.code == "insufficient_funds" and refused.value.http_status == 402
    assert "14.99 EUR" in str(refused.value.message) and "15.00 EUR" in str(refused.value.message)
    renewal.refresh_from_db()
    assert renewal.status == Renewal.Status.PENDING_PAYMENT
    assert not Payment.objects.exists()
    assert WalletEntry.objects.count() == 1 and AuditEntry.objects.count() == audits
    assert_ledger_matches(PartnerWallet.objects.get())


@pytest.mark.django_db
def test_a_partner_without_a_wallet_gets_a_402_of_its_own(partner_line, as_partner):
    renewal = a_partner_renewal(partner_line, as_partner)
    with pytest.raises(InsufficientFunds) as refused:
        wallet_pay_renewal(renewal=renewal, actor=as_partner)
    assert refused.value.code == "no_wallet" and refused.value.http_status == 402
    assert not Payment.objects.exists()


@pytest.mark.django_db
def test_a_renewal_priced_in_another_currency_is_refused(
    partner_a, partner_line, plan, as_manager, as_partner
):
    from tests.factories import PriceFactory

    PriceFactory(plan=plan, currency="USD", channel="partner", amount=Decimal("16.00"))
    wallet_top_up(partner=partner_a, amount=Decimal("40.00"), currency="EUR", actor=as_manager, reason="T-1")
    renewal = a_partner_renewal(partner_line, as_partner, currency="USD")
    with pytest.raises(DomainError) as refused:
        wallet_pay_renewal(renewal=renewal, actor=as_partner)
    assert refused.value.code == "currency"
    assert not Payment.objects.exists() and PartnerWallet.objects.get().balance == Decimal("40.00")


@pytest.mark.django_db
def test_a_refund_of_a_wallet_payment_succeeds_at_once_and_credits_the_wallet_once(
    partner_a, partner_line, as_manager, as_partner
):
    wallet_top_up(partner=partner_a, amount=Decimal("40.00"), currency="EUR", actor=as_manager, reason="T-1")
    payment = wallet_pay_renewal(renewal=a_partner_renewal(partner_line, as_partner), actor=as_partner)

    def refund_five(key="refund-1"):
        return refund_request(
            payment=payment,
            amount=Decimal("5.00"),
            reason="customer_request",
            entitlement="keep",
            actor=as_partner,
            idempotency_key=key,
        )

    refund = refund_five()
    assert refund.status == Refund.Status.SUCCEEDED
    again = refund_five()  # the same request, retried
    assert again.pk == refund.pk
    credit = WalletEntry.objects.get(kind="refund_credit")
    assert (credit.amount, credit.refund_id) == (Decimal("5.00"), refund.pk)
    wallet = PartnerWallet.objects.get()
    assert wallet.balance == Decimal("30.00")
    assert_ledger_matches(wallet)
    assert AuditEntry.objects.filter(action="wallet.credited").count() == 1


@pytest.mark.django_db
def test_the_database_refuses_a_negative_balance():
    wallet = PartnerWallet.objects.create(partner=PartnerFactory(), currency="EUR")
    with pytest.raises(IntegrityError), transaction.atomic():
        PartnerWallet.objects.filter(pk=wallet.pk).update(balance=Decimal("-0.01"))


# --- The admin -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_manager_tops_up_a_wallet_in_the_admin_and_a_double_submit_tops_up_once(client, manager, partner_a):
    login_staff(client, manager)
    form = {
        "partner": partner_a.pk,
        "amount": "250.00",
        "reason": "transfer T-77",
        "idempotency_key": "form-1",
    }
    first = client.post("/admin/payments/partnerwallet/top-up/", form)
    wallet = PartnerWallet.objects.get(partner=partner_a)
    assert first.status_code == 302 and first["Location"].endswith(f"/{wallet.pk}/change/")
    client.post("/admin/payments/partnerwallet/top-up/", form)
    assert wallet.entries.count() == 1
    assert_ledger_matches(wallet)
    assert wallet.balance == Decimal("250.00")
    page = client.get(f"/admin/payments/partnerwallet/{wallet.pk}/change/").content.decode()
    assert "transfer T-77" in page and "top-up/?partner=" in page


@pytest.mark.django_db
def test_a_bad_top_up_in_the_admin_shows_the_error_and_changes_nothing(client, manager, partner_a):
    login_staff(client, manager)
    form = {"partner": partner_a.pk, "amount": "1.001", "reason": "x", "idempotency_key": "form-2"}
    response = client.post("/admin/payments/partnerwallet/top-up/", form)
    assert response.status_code == 200 and "errornote" in response.content.decode()
    assert not WalletEntry.objects.exists()


@pytest.mark.django_db
def test_billing_staff_see_wallets_but_cannot_top_up(client, billing_agent, partner_a, as_manager):
    wallet_top_up(partner=partner_a, amount=Decimal("10"), currency="EUR", actor=as_manager, reason="T-1")
    login_staff(client, billing_agent)
    wallet = PartnerWallet.objects.get()
    page = client.get(f"/admin/payments/partnerwallet/{wallet.pk}/change/")
    assert page.status_code == 200 and "top-up/" not in page.content.decode()
    form = {"partner": partner_a.pk, "amount": "5", "reason": "x", "idempotency_key": "k"}
    assert client.post("/admin/payments/partnerwallet/top-up/", form).status_code == 403
    assert wallet.entries.count() == 1


# --- On PostgreSQL: the lock order ----------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_refunds_and_wallet_renewals_on_one_line_at_once_neither_deadlock_nor_lose_money(
    on_postgres, partner_a, plan, as_manager
):
    # Both take the wallet before the line: taken after, a refund (line locked, waiting for the
    # wallet) and a payment (wallet locked, waiting for the line) would deadlock.
    line = SimLineFactory(customer=CustomerFactory(partner=partner_a), plan=plan)
    as_partner = Actor.for_partner(partner_a)
    wallet_top_up(partner=partner_a, amount=Decimal("200.00"), currency="EUR", actor=as_manager, reason="T-1")
    paid = [
        wallet_pay_renewal(renewal=a_partner_renewal(line, as_partner, key=f"old-{i}"), actor=as_partner)
        for i in range(3)
    ]
    waiting = [a_partner_renewal(line, as_partner, key=f"new-{i}") for i in range(3)]

    def refund_or_pay(index):
        if index % 2:
            return refund_request(
                payment=paid[index // 2],
                amount=Decimal("5.00"),
                reason="goodwill",
                entitlement="keep",
                actor=as_partner,
                idempotency_key=f"refund-{index}",
            ).status
        return wallet_pay_renewal(renewal=waiting[index // 2], actor=as_partner).status

    assert run_concurrently(refund_or_pay, 6) == ["succeeded"] * 6
    wallet = PartnerWallet.objects.get(partner=partner_a)
    assert wallet.balance == Decimal("200.00") - 6 * PRICE + 3 * Decimal("5.00")
    assert_ledger_matches(wallet)
