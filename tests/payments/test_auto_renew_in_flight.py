"""An automatic charge in flight: the saved card is charged with no transaction open and no
row locked, and the committed attempt keeps every other way of paying the renewal out until
Stripe has answered. The charge is held at the provider (a proxy in front of the local Stripe
peer) while the test looks at the database from another connection and tries to pay."""

import threading
from contextlib import contextmanager
from decimal import Decimal

import pytest
from django.db import connection, transaction

from accounts.models import AuditEntry, SimLine
from api.problems import problem_exception_handler
from payments import manual
from payments.autorenew import auto_renew_line
from payments.checkout import AutomaticChargeInFlight, payment_start
from payments.links import renewal_pay_url
from payments.manual import payment_record_manual
from payments.models import PartnerWallet, Payment, WalletEntry
from payments.wallet import wallet_pay_renewal, wallet_top_up
from plans.models import Renewal
from plans.renewals import renewal_cancel
from reseller.actors import Actor
from tests.faults.invariants import assert_ledger_consistent
from tests.faults.stripe_proxy import lossy_stripe_proxy
from tests.payments.test_auto_renew import auto_line  # noqa: F401 (a fixture)

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.usefixtures("on_postgres"),
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

IN_FLIGHT_MESSAGE = "An automatic payment with the saved card is being taken for this renewal"


@pytest.fixture
def provider(stripe_peer, settings):
    """Stripe reached through a proxy that can hold a request before it reaches the peer."""
    with lossy_stripe_proxy(stripe_peer.base_url) as (url, proxy):
        settings.STRIPE_API_BASE = url
        yield proxy


@contextmanager
def charge_held(provider, line):
    """Auto-renew of ``line`` on a worker thread of its own, its charge held at the provider
    until the block ends; yields what the worker reports (its database session's pid, then
    the attempt it returned)."""
    provider.hold("/v1/payment_intents")
    worker: dict = {}

    def run():
        try:
            connection.ensure_connection()
            worker["pid"] = connection.connection.info.backend_pid
            worker["payment"] = auto_renew_line(line_id=line.pk)
        except Exception as exc:  # the test asserts on it
            worker["error"] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    try:
        assert provider.arrived.wait(timeout=60), worker
        yield worker
    finally:
        provider.release.set()
        thread.join(timeout=60)


def _session(pid: int) -> tuple:
    with connection.cursor() as cursor:
        cursor.execute("SELECT state, xact_start FROM pg_stat_activity WHERE pid = %s", [pid])
        activity = cursor.fetchone()
        cursor.execute("SELECT locktype, mode FROM pg_locks WHERE pid = %s", [pid])
        return activity, cursor.fetchall()


def cash_at_the_counter(renewal, staff) -> Payment:
    return payment_record_manual(
        renewal=renewal,
        method="cash",
        amount=Decimal("19.90"),
        currency="EUR",
        reference="till",
        actor=Actor.staff(staff),
    )


def _partner_wallet_for(line, partner, manager) -> PartnerWallet:
    line.customer.partner = partner
    line.customer.save(update_fields=["partner"])
    wallet_top_up(
        partner=partner, amount=Decimal("100.00"), currency="EUR", actor=Actor.staff(manager), reason="wire 1"
    )
    return PartnerWallet.objects.get(partner=partner)


def test_while_the_card_is_charged_no_transaction_is_open_and_no_row_is_locked(
    auto_line,  # noqa: F811
    provider,
):
    with charge_held(provider, auto_line) as worker:
        (state, transaction_started), locks = _session(worker["pid"])
        assert (state, transaction_started, locks) == ("idle", None, [])
        renewal = Renewal.objects.get(line=auto_line, channel="auto_renew")
        with transaction.atomic():  # both rows free: NOWAIT would raise if either were locked
            SimLine.objects.select_for_update(nowait=True).get(pk=auto_line.pk)
            Renewal.objects.select_for_update(nowait=True).get(pk=renewal.pk)
    assert "error" not in worker, worker
    assert worker["payment"].status == "succeeded"


def test_while_the_card_is_charged_every_other_way_to_pay_is_refused_and_nothing_changes(
    auto_line,  # noqa: F811
    provider,
    stripe_peer,
    client,
    partner_a,
    manager,
    billing_agent,
):
    wallet = _partner_wallet_for(auto_line, partner_a, manager)
    expiry = auto_line.expires_at
    with charge_held(provider, auto_line):
        renewal = Renewal.objects.get(line=auto_line, channel="auto_renew")
        audit_entries = AuditEntry.objects.count()

        # The customer's link to pay the renewal (what a failed-payment message sends).
        page = client.post(renewal_pay_url(renewal).removeprefix("http://127.0.0.1:8000"), {"method": "card"})
        assert page.status_code == 200 and IN_FLIGHT_MESSAGE in page.content.decode()
        with pytest.raises(AutomaticChargeInFlight):
            payment_start(renewal=renewal, method="alipay", actor=Actor.system("tests"))
        # The partner's wallet.
        with pytest.raises(AutomaticChargeInFlight):
            wallet_pay_renewal(renewal=renewal, actor=Actor.for_partner(partner_a))
        # Cash at the counter.
        with pytest.raises(AutomaticChargeInFlight) as refused:
            cash_at_the_counter(renewal, billing_agent)
        assert refused.value.code == "automatic_charge_in_flight"
        # Closing the renewal (staff ending its follow-up): the card's money would buy nothing.
        with pytest.raises(AutomaticChargeInFlight):
            renewal_cancel(renewal=renewal, actor=Actor.system("tests"), reason="closed in a test")

        assert list(Payment.objects.filter(renewal=renewal).values_list("status", "off_session")) == [
            ("pending", True)
        ]
        assert Renewal.objects.get(pk=renewal.pk).status == "pending_payment"
        assert PartnerWallet.objects.get(pk=wallet.pk).balance == Decimal("100.00")
        assert not WalletEntry.objects.filter(kind=WalletEntry.Kind.RENEWAL_DEBIT).exists()
        assert AuditEntry.objects.count() == audit_entries

    # Once Stripe has answered: one payment, the card's, and one period.
    succeeded = Payment.objects.filter(customer=auto_line.customer, status="succeeded")
    assert list(succeeded.values_list("renewal_id", "method", "off_session")) == [(renewal.pk, "card", True)]
    renewal.refresh_from_db()
    assert renewal.status in Renewal.GRANTED_STATUSES and renewal.period_start == expiry
    assert AuditEntry.objects.filter(action="renewal.paid", object_id=str(renewal.pk)).count() == 1
    assert_ledger_consistent(stripe_peer=stripe_peer)


def test_control_without_the_in_flight_guard_a_cash_payment_during_the_charge_pays_twice(
    auto_line,  # noqa: F811
    provider,
    billing_agent,
    monkeypatch,
):
    """What the guard prevents: with it removed from the cash payment, the renewal is paid in
    cash during the charge and the card is charged too; the second payment is parked for
    Billing to refund."""
    monkeypatch.setattr(manual, "renewal_refuse_while_charging", lambda renewal_id: None)
    with charge_held(provider, auto_line):
        renewal = Renewal.objects.get(line=auto_line, channel="auto_renew")
        cash_at_the_counter(renewal, billing_agent)
    succeeded = Payment.objects.filter(customer=auto_line.customer, status="succeeded").order_by("pk")
    assert [(p.method, p.renewal_id) for p in succeeded] == [("card", None), ("cash", renewal.pk)]
    assert "already paid by another payment" in succeeded[0].review_reason


def test_the_api_answers_a_charge_in_flight_with_a_409_conflict():
    answer = problem_exception_handler(AutomaticChargeInFlight(), {"request": None})
    assert answer.status_code == 409
    assert answer.data["type"] == "/api/v1/problems/conflict"
    assert answer.data["code"] == "automatic_charge_in_flight"
    assert answer.data["detail"].startswith(IN_FLIGHT_MESSAGE)
