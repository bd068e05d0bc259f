"""Each service tells the line's partner what happened, in its own transaction: a renewal
paid, a charge declined, a line expiring or low on data, a refund's outcome, a wallet below its
threshold. A change rolled back leaves no event; the reseller's own customers get none; the
payloads are the API's shapes."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import transaction

from notifications.services import expiry_reminders_send, low_data_warnings_send
from payments.dunning import case_record_failure
from payments.models import PartnerWallet, Payment, Refund
from payments.refunds import refund_apply_provider, refund_request
from payments.wallet import wallet_pay_renewal, wallet_top_up
from plans.renewals import renewal_mark_paid, renewal_request
from reseller.actors import Actor
from tests.api.conftest import ApiClient, issue
from tests.factories import (
    CustomerFactory,
    PaymentFactory,
    PlanFactory,
    RefundFactory,
    RenewalFactory,
    SimLineFactory,
    UsageFactory,
)
from webhooks.models import WebhookDelivery, WebhookEvent

SYSTEM = Actor.system("tests")
START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _every_event_to_partner_a(partner_a, partner_b):
    from tests.webhooks.conftest import an_endpoint

    an_endpoint(partner_a, "https://agence-a.example.com/hooks")


def events(**filters) -> list[str]:
    return list(WebhookEvent.objects.filter(**filters).order_by("pk").values_list("event_type", flat=True))


def partner_line(partner, plan, **fields):
    return SimLineFactory(customer=CustomerFactory(partner=partner), plan=plan, **fields)


def top_up(partner, amount: str) -> None:
    wallet_top_up(partner=partner, amount=Decimal(amount), currency="EUR", actor=SYSTEM, reason="T")


def pay_from_wallet(partner, line, key: str) -> Payment:
    as_partner = Actor.for_partner(partner)
    renewal = renewal_request(
        line=line,
        plan=line.plan,
        currency="EUR",
        channel="partner_api",
        idempotency_key=key,
        actor=as_partner,
    )
    return wallet_pay_renewal(renewal=renewal, actor=as_partner)


@pytest.mark.django_db
def test_a_paid_renewal_is_a_line_renewed_event_shaped_like_the_api(partner_a, plan):
    line = partner_line(partner_a, plan)
    top_up(partner_a, "20.00")
    payment = pay_from_wallet(partner_a, line, "r1")

    event = WebhookEvent.objects.get()
    assert (event.partner, event.event_type) == (partner_a, "line.renewed")
    assert event.event_id.startswith("evt_")
    assert WebhookDelivery.objects.get().event == event
    api = ApiClient(issue(partner=partner_a))
    assert event.data["renewal"] == api.get(f"/api/v1/renewals/{payment.renewal_id}/").json()
    assert event.data["line"]["id"] == line.pk
    assert event.data["line"]["expires_at"] == api.get(f"/api/v1/lines/{line.pk}/").json()["expires_at"]


@pytest.mark.django_db
def test_a_renewal_rolled_back_leaves_no_event_and_no_delivery(partner_a, plan):
    line = partner_line(partner_a, plan)
    top_up(partner_a, "20.00")
    with pytest.raises(RuntimeError), transaction.atomic():
        pay_from_wallet(partner_a, line, "r1")
        raise RuntimeError("the business change fails after the event was written")
    assert WebhookEvent.objects.count() == 0
    assert WebhookDelivery.objects.count() == 0


@pytest.mark.django_db
def test_the_resellers_own_customers_make_no_events(plan):
    renewal = RenewalFactory(
        line=SimLineFactory(plan=plan),
        status="pending_payment",
        paid_at=None,
        period_start=None,
        period_end=None,
    )
    renewal_mark_paid(renewal_id=renewal.pk, actor=SYSTEM, reason="cash")
    assert events() == []


@pytest.mark.django_db
def test_a_wallet_falling_below_its_threshold_is_told_once_per_crossing(partner_a, plan):
    line = partner_line(partner_a, plan)
    top_up(partner_a, "40.00")
    PartnerWallet.objects.filter(partner=partner_a).update(low_balance_threshold=Decimal("20.00"))
    pay_from_wallet(partner_a, line, "r1")  # 40 → 25: still above
    assert events(event_type="wallet.low_balance") == []
    pay_from_wallet(partner_a, line, "r2")  # 25 → 10: crosses
    top_up(partner_a, "5.00")
    pay_from_wallet(partner_a, line, "r3")  # 15 → 0: was already below
    assert events(event_type="wallet.low_balance") == ["wallet.low_balance"]
    first = WebhookEvent.objects.get(event_type="wallet.low_balance")
    assert first.data["wallet"]["balance"] == {"amount": "10.00", "currency": "EUR"}
    assert first.data["wallet"]["low_balance_threshold"] == {"amount": "20.00", "currency": "EUR"}
    top_up(partner_a, "30.00")
    pay_from_wallet(partner_a, line, "r4")  # 30 → 15: crosses again
    assert events(event_type="wallet.low_balance") == ["wallet.low_balance"] * 2


@pytest.mark.django_db
def test_a_wallet_refund_is_a_refund_succeeded_event(partner_a, plan):
    line = partner_line(partner_a, plan)
    top_up(partner_a, "20.00")
    payment = pay_from_wallet(partner_a, line, "r1")
    refund = refund_request(
        payment=payment,
        amount=Decimal("5.00"),
        reason="service_failure",
        entitlement="keep",
        actor=Actor.for_partner(partner_a),
        idempotency_key="refund-1",
    )
    event = WebhookEvent.objects.get(event_type="refund.succeeded")
    assert event.data["refund"]["id"] == refund.pk
    assert event.data["refund"]["amount"] == {"amount": "5.00", "currency": "EUR"}
    assert event.data["refund"]["status"] == "succeeded"


@pytest.mark.django_db
def test_a_refund_stripe_reports_failed_is_a_refund_failed_event_once(partner_a, plan):
    payment = PaymentFactory(renewal__line=partner_line(partner_a, plan), stripe_payment_intent_id="pi_1")
    refund = RefundFactory(payment=payment, status=Refund.Status.PENDING)
    provider_refund = {
        "id": "re_1",
        "payment_intent": "pi_1",
        "status": "failed",
        "failure_reason": "expired_or_canceled_card",
        "amount": 1990,
        "currency": "eur",
        "metadata": {"refund_id": str(refund.pk)},
    }
    refund_apply_provider(provider_refund, actor=SYSTEM)
    refund_apply_provider(provider_refund, actor=SYSTEM)  # the same event again
    [event] = WebhookEvent.objects.filter(event_type="refund.failed")
    assert event.data["refund"]["failure_reason"] == "expired_or_canceled_card"


@pytest.mark.django_db
def test_a_declined_charge_is_a_renewal_failed_event(partner_a, plan):
    line = partner_line(partner_a, plan)
    renewal = RenewalFactory(
        line=line, status="pending_payment", paid_at=None, period_start=None, period_end=None
    )
    payment = PaymentFactory(
        renewal=renewal,
        status=Payment.Status.FAILED,
        paid_at=None,
        receipt_number=None,
        decline_code="card_declined",
    )
    case_record_failure(payment=payment, actor=SYSTEM)
    event = WebhookEvent.objects.get()
    assert event.event_type == "renewal.failed"
    assert (event.data["renewal"]["id"], event.data["payment"]["id"]) == (renewal.pk, payment.pk)
    assert (event.data["decline_code"], event.data["attempts"]) == ("card_declined", 1)


@pytest.mark.django_db
def test_expiry_reminders_tell_the_partner_once_per_reminder(partner_a, partner_b, plan, time_machine):
    time_machine.move_to(START, tick=False)
    ours = partner_line(partner_a, plan, expires_at=START + timedelta(days=2, hours=1))
    partner_line(partner_b, plan, expires_at=START + timedelta(days=2))  # B has no endpoint: event only
    SimLineFactory(plan=plan, expires_at=START + timedelta(days=2))  # the reseller's own: nothing
    expiry_reminders_send(now=START)
    expiry_reminders_send(now=START + timedelta(hours=1))
    [event] = WebhookEvent.objects.filter(partner=partner_a)
    assert event.event_type == "line.expiring"
    assert (event.data["line"]["id"], event.data["days_left"]) == (ours.pk, 3)
    assert events(partner=partner_b) == ["line.expiring"]
    assert WebhookEvent.objects.count() == 2
    assert WebhookDelivery.objects.filter(event__partner=partner_b).count() == 0
    expiry_reminders_send(now=START + timedelta(days=1, hours=2))  # under a day left: the 1-day one
    assert events(partner=partner_a) == ["line.expiring", "line.expiring"]


@pytest.mark.django_db
def test_a_line_at_80_percent_of_its_data_is_a_low_data_event_once(partner_a, time_machine):
    time_machine.move_to(START, tick=False)
    small = PlanFactory(validity_days=30, data_mb=1_000)
    line = partner_line(partner_a, small, expires_at=START + timedelta(days=29))
    RenewalFactory(line=line, period_start=START - timedelta(days=1), period_end=START + timedelta(days=29))
    UsageFactory(line=line, recorded_at=START, data_bytes=850 * 1_000_000)
    low_data_warnings_send(now=START + timedelta(hours=1))
    low_data_warnings_send(now=START + timedelta(hours=2))
    [event] = WebhookEvent.objects.all()
    assert event.event_type == "line.low_data"
    assert (event.data["line"]["id"], event.data["data_used_percent"]) == (line.pk, 85)
