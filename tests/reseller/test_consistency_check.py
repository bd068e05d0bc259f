"""The consistency check: a database written through the services passes; each kind of
violation, injected behind the services' back (raw SQL), is reported by its check and makes
``manage.py consistency_check`` fail."""

from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from accounts.corrections import adjustment_request
from accounts.models import Correction
from payments.manual import payment_record_manual
from payments.models import PartnerWallet, Payment, ReceiptSequence, Refund, WalletEntry
from payments.refunds import refund_request
from payments.wallet import wallet_pay_renewal, wallet_top_up
from plans.models import Renewal
from plans.renewals import renewal_request
from reseller.actors import Actor
from reseller.consistency import CHECKS, consistency_check
from tests.factories import CustomerFactory, PartnerFactory, SimLineFactory


@pytest.fixture
def world(db, plan, line, manager, billing_agent, support_agent):
    """Money moved every way the services move it: a cash renewal partly refunded, a partner's
    wallet topped up, a wallet renewal refunded back to the wallet, a balance adjustment."""
    billing = Actor.staff(billing_agent)
    renewal = renewal_request(
        line=line, plan=plan, currency="EUR", channel="admin", idempotency_key="cash-1", actor=billing
    )
    cash = payment_record_manual(
        renewal=renewal,
        method="cash",
        amount=Decimal("19.90"),
        currency="EUR",
        reference="till 3",
        actor=billing,
    )
    refund_request(
        payment=cash,
        amount=Decimal("5.00"),
        reason="goodwill",
        entitlement="keep",
        actor=billing,
        idempotency_key="refund-cash-1",
        manual_reference="cash handed back",
    )
    partner = PartnerFactory()
    partner_line = SimLineFactory(customer=CustomerFactory(partner=partner), plan=plan)
    wallet_top_up(
        partner=partner, amount=Decimal("50.00"), currency="EUR", actor=Actor.staff(manager), reason="T-1"
    )
    as_partner = Actor.for_partner(partner)
    wallet_renewal = renewal_request(
        line=partner_line,
        plan=plan,
        currency="EUR",
        channel="partner_api",
        idempotency_key="w-1",
        actor=as_partner,
    )
    from_wallet = wallet_pay_renewal(renewal=wallet_renewal, actor=as_partner)
    refund_request(
        payment=from_wallet,
        amount=Decimal("15.00"),
        reason="customer_request",
        entitlement="keep",
        actor=as_partner,
        idempotency_key="refund-wallet-1",
    )
    adjustment_request(
        line=line,
        reason=Correction.Reason.NETWORK_OUTAGE,
        comment="outage",
        actor=Actor.staff(support_agent),
        data_mb=100,
    )
    waiting = renewal_request(
        line=line, plan=plan, currency="EUR", channel="admin", idempotency_key="cash-2", actor=billing
    )
    return {
        "cash": cash,
        "wallet_payment": from_wallet,
        "waiting": waiting,
        "wallet": PartnerWallet.objects.get(partner=partner),
    }


def _update(model, assignments: str, where: str, params=()) -> None:
    """An UPDATE behind the services' back (and the ORM's)."""
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {model._meta.db_table} SET {assignments} WHERE {where}", params)  # noqa: S608


def _failing_checks() -> set[str]:
    return {result.name for result in consistency_check().results if not result.ok}


def test_a_database_written_through_the_services_passes(world):
    report = consistency_check()

    assert report.ok, report.as_text()
    assert [result.name for result in report.results] == list(CHECKS)
    assert report.result("payment_period").checked == 2
    assert report.result("refund_total").checked == 2
    assert report.result("receipt_gaps").checked == 2
    assert report.result("wallet_ledger").checked == 1
    assert report.as_text().endswith("consistency check: PASS")


def test_the_command_prints_the_report_and_succeeds_on_a_clean_database(world, capsys):
    call_command("consistency_check")

    out = capsys.readouterr().out
    assert "[ok] wallet_ledger" in out
    assert out.rstrip().endswith("consistency check: PASS")


def test_a_wallet_balance_edited_in_place_breaks_the_ledger(world):
    _update(PartnerWallet, "balance = balance + 1", "id = %s", [world["wallet"].pk])

    report = consistency_check()

    assert _failing_checks() == {"wallet_ledger"}
    assert report.result("wallet_ledger").violations == [
        f"wallet #{world['wallet'].pk} ({world['wallet'].partner.code}): balance 51.00 EUR "
        "but its entries add up to 50.00"
    ]


def test_a_wallet_debit_that_differs_from_its_payment_is_reported(world):
    _update(WalletEntry, "amount = amount + 1", "payment_id = %s", [world["wallet_payment"].pk])

    assert {"wallet_entry_subject", "wallet_ledger"} <= _failing_checks()


def test_a_succeeded_payment_whose_renewal_granted_no_period_is_reported(world):
    _update(Renewal, "status = 'cancelled'", "id = %s", [world["cash"].renewal_id])

    report = consistency_check()

    assert _failing_checks() == {"payment_period"}
    assert report.result("payment_period").violations == [
        f"payment #{world['cash'].pk} succeeded but renewal #{world['cash'].renewal_id} is cancelled: "
        "no period granted"
    ]


def test_a_period_granted_without_a_payment_is_reported(world):
    _update(Renewal, "status = 'paid', paid_at = %s", "id = %s", [timezone.now(), world["waiting"].pk])

    report = consistency_check()

    assert "payment_period" in _failing_checks()
    assert (
        f"renewal #{world['waiting'].pk} has a granted period but 0 succeeded payments"
        in report.result("payment_period").violations
    )


def test_refunds_beyond_the_payment_are_reported(world):
    _update(Refund, "amount = 20", "payment_id = %s", [world["cash"].pk])

    report = consistency_check()

    assert _failing_checks() == {"refund_total"}
    assert report.result("refund_total").violations == [
        f"payment #{world['cash'].pk}: 20.00 EUR refunded of 19.90 EUR paid"
    ]


def test_a_payment_for_nothing_is_an_orphan(world):
    _update(Payment, "renewal_id = NULL", "id = %s", [world["cash"].pk])

    assert "orphan_payment" in _failing_checks()


def test_a_payment_parked_for_review_is_not_an_orphan(world):
    _update(Payment, "renewal_id = NULL, review_reason = 'duplicate'", "id = %s", [world["cash"].pk])

    assert "orphan_payment" not in _failing_checks()


def test_a_hole_in_the_receipt_numbers_is_reported(world):
    year = timezone.localtime(world["cash"].paid_at).year
    _update(ReceiptSequence, "last_number = last_number + 1", "year = %s", [year])

    report = consistency_check()

    assert _failing_checks() == {"receipt_gaps"}
    assert report.result("receipt_gaps").violations == [
        f"{year}: 1 receipt number(s) issued by the sequence but on no payment: R{year}-000003"
    ]


def test_a_receipt_number_the_sequence_never_issued_is_reported(world):
    year = timezone.localtime(world["cash"].paid_at).year
    _update(ReceiptSequence, "last_number = last_number - 1", "year = %s", [year])

    report = consistency_check()

    assert _failing_checks() == {"receipt_gaps"}
    assert report.result("receipt_gaps").violations == [
        f"{year}: receipt number(s) beyond the sequence's last (1): R{year}-000002"
    ]


def test_a_receipt_number_of_another_form_is_reported(world):
    _update(Payment, "receipt_number = 'CASH-1'", "id = %s", [world["cash"].pk])

    report = consistency_check()

    assert (
        "receipt number CASH-1 is not of the form R<year>-<number>"
        in report.result("receipt_gaps").violations
    )


def test_a_succeeded_payment_without_a_receipt_number_is_reported(world, on_postgres):
    # The database refuses it (payment_succeeded_has_receipt); dropped here, inside the test's
    # transaction, to show the check still catches a database that lost the constraint.
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no pending foreign-key checks before ALTER
        cursor.execute("ALTER TABLE payments_payment DROP CONSTRAINT payment_succeeded_has_receipt")
    _update(Payment, "receipt_number = NULL", "id = %s", [world["cash"].pk])

    assert {"receipt_number", "receipt_gaps"} <= _failing_checks()


def test_money_moved_without_an_audit_entry_is_reported(world, line):
    # A payment and a refund written behind the services' back: no audit entry names them.
    renewal = world["waiting"]
    unaudited = Payment.objects.create(
        renewal=renewal, customer_id=line.customer_id, amount=Decimal("19.90"), currency="EUR", method="card"
    )
    refund = Refund.objects.create(
        payment=world["cash"], amount=Decimal("1.00"), currency="EUR", reason="other", idempotency_key="x"
    )

    report = consistency_check()

    assert _failing_checks() == {"audit"}
    assert report.result("audit").violations == [
        f"payment #{unaudited.pk} has no audit entry (payment.started or payment.recorded)",
        f"refund #{refund.pk} has no audit entry (refund.requested or refund.recorded_from_provider)",
    ]


def test_a_wallet_top_up_without_its_audit_entry_is_reported(world):
    wallet = world["wallet"]
    WalletEntry.objects.create(
        wallet=wallet,
        kind="top_up",
        amount=Decimal("5"),
        balance_after=Decimal("55"),
        actor_label="x",
        reason="x",
    )
    _update(PartnerWallet, "balance = balance + 5", "id = %s", [wallet.pk])

    report = consistency_check()

    assert _failing_checks() == {"audit"}
    assert report.result("audit").violations == [
        f"wallet #{wallet.pk}: 2 top_up entries but 1 wallet.topped_up audit entries"
    ]


def test_the_command_fails_on_any_violation(world, capsys):
    _update(PartnerWallet, "balance = balance + 1", "id = %s", [world["wallet"].pk])

    with pytest.raises(CommandError, match="1 consistency violation"):
        call_command("consistency_check")

    assert "[1 VIOLATION(S)] wallet_ledger" in capsys.readouterr().out


def test_the_check_is_read_only(world):
    before = (Payment.objects.count(), Refund.objects.count(), WalletEntry.objects.count())
    consistency_check()
    assert (Payment.objects.count(), Refund.objects.count(), WalletEntry.objects.count()) == before
