"""Auto-renew and the failed-payment follow-up, through the whole lifecycle with the clock
moved by hand: the real stripe library against the local Stripe peer, PostgreSQL for the
races."""

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from accounts.models import SimLine
from notifications.models import NotificationLog
from payments.autorenew import auto_renew_run, line_auto_renew_set
from payments.checkout import IN_FLIGHT_MINUTES, stripe_customer_ensure
from payments.dunning import case_retry, grace_end_run, retries_run
from payments.models import FailedPaymentCase, Payment, SavedPaymentMethod
from plans.models import Renewal
from reseller.actors import Actor
from reseller.errors import DomainError
from tests import stripe_peer as peer_side
from tests.concurrency import run_concurrently
from tests.factories import SimLineFactory

ACTOR = Actor.system("tests")
VISA = "4242424242424242"


def saved_card(stripe_peer, customer, declines: str | None = None) -> SavedPaymentMethod:
    """A card the customer saved earlier (through a SetupIntent), attached to them at Stripe;
    with ``declines``, one their bank has since started to decline with that code."""
    stripe_customer_ensure(customer)
    pm = peer_side.card_payment_method(stripe_peer.base_url, VISA)
    stripe_peer.client().v1.payment_methods.attach(pm, {"customer": customer.stripe_customer_id})
    if declines:
        peer_side.bank_declines_card(stripe_peer.base_url, pm, declines)
    return SavedPaymentMethod.objects.create(
        customer=customer,
        stripe_payment_method_id=pm,
        brand="visa",
        last4="4242",
        exp_month=12,
        exp_year=2034,
    )


@pytest.fixture
def auto_line(plan, stripe_peer):
    line = SimLineFactory(
        plan=plan, expires_at=timezone.now() + timedelta(hours=20), customer__currency="EUR"
    )
    line_auto_renew_set(
        line=line,
        enabled=True,
        plan=plan,
        method=saved_card(stripe_peer, line.customer),
        actor=ACTOR,
        reason="set by a test",
    )
    return line


def with_card(line, stripe_peer, declines=None):
    method = saved_card(stripe_peer, line.customer, declines)
    line_auto_renew_set(
        line=line, enabled=True, plan=line.auto_renew_plan, method=method, actor=ACTOR, reason="set by a test"
    )
    return method


def notices(line, kind):
    return list(NotificationLog.objects.filter(line=line, kind=kind).values_list("channel", "language"))


# --- Turning it on -----------------------------------------------------------------------------


def test_auto_renew_needs_one_of_the_customers_own_saved_cards(line, plan, stripe_peer):
    from tests.factories import CustomerFactory

    someone_elses = saved_card(stripe_peer, CustomerFactory())
    with pytest.raises(DomainError) as refused:
        line_auto_renew_set(
            line=line, enabled=True, plan=plan, method=someone_elses, actor=ACTOR, reason="set by a test"
        )
    assert refused.value.code == "method"
    wallet = SavedPaymentMethod.objects.create(
        customer=line.customer, stripe_payment_method_id="pm_wechat", kind="wechat_pay"
    )
    with pytest.raises(DomainError, match="Alipay and WeChat Pay"):
        line_auto_renew_set(
            line=line, enabled=True, plan=plan, method=wallet, actor=ACTOR, reason="set by a test"
        )
    assert SimLine.objects.get(pk=line.pk).auto_renew is False


# --- Renewing ----------------------------------------------------------------------------------


def test_a_line_due_is_renewed_silently_with_a_receipt(
    auto_line, django_capture_on_commit_callbacks, mailoutbox
):
    expiry = auto_line.expires_at
    with django_capture_on_commit_callbacks(execute=True):
        assert auto_renew_run() == 1
    payment = Payment.objects.get(renewal__line=auto_line)
    assert (payment.status, payment.off_session, payment.amount) == ("succeeded", True, Decimal("19.90"))
    renewal = payment.renewal
    assert renewal.channel == "auto_renew" and renewal.period_start == expiry  # no day lost
    assert [m for m in mailoutbox if m.attachments]  # the receipt
    assert notices(auto_line, "payment_failed") == []


def test_a_line_not_yet_due_is_left_alone(plan, stripe_peer):
    line = SimLineFactory(plan=plan, expires_at=timezone.now() + timedelta(days=5))
    line_auto_renew_set(
        line=line,
        enabled=True,
        plan=plan,
        method=saved_card(stripe_peer, line.customer),
        actor=ACTOR,
        reason="set by a test",
    )
    assert auto_renew_run() == 0
    assert not Renewal.objects.filter(line=line, channel="auto_renew").exists()


def test_running_the_job_twice_charges_once(auto_line):
    auto_renew_run()
    auto_renew_run()
    assert Payment.objects.filter(renewal__line=auto_line).count() == 1
    assert Renewal.objects.filter(line=auto_line, channel="auto_renew").count() == 1


@pytest.mark.usefixtures("on_postgres")
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_workers_running_the_job_at_once_charge_once(auto_line, stripe_peer):
    outcomes = run_concurrently(lambda i: auto_renew_run(), 4)
    assert sorted(outcomes) == [0, 0, 0, 1], outcomes
    assert Payment.objects.filter(renewal__line=auto_line, status="succeeded").count() == 1
    charges = stripe_peer.client().v1.payment_intents.list(
        {"customer": auto_line.customer.stripe_customer_id}
    )
    assert [pi.status for pi in charges.data] == ["succeeded"]


# --- Declines, retries, recovery -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "retried"),
    [
        ("insufficient_funds", True),
        ("generic_decline", True),
        ("processing_error", True),
        ("expired_card", False),
        ("incorrect_cvc", False),
        ("lost_card", False),
        ("stolen_card", False),
        ("authentication_required", False),
    ],
)
def test_a_decline_opens_a_case_and_tells_the_customer_at_once(
    auto_line, stripe_peer, code, retried, django_capture_on_commit_callbacks
):
    with_card(auto_line, stripe_peer, code)
    with django_capture_on_commit_callbacks(execute=True):
        auto_renew_run()
    case = FailedPaymentCase.objects.get(renewal__line=auto_line)
    assert (case.status, case.attempts, case.last_decline_code) == ("open", 1, code)
    assert (case.next_retry_at is not None) is retried
    assert case.customer_notified_at is not None
    assert ("email", auto_line.customer.language) in notices(auto_line, "payment_failed")
    assert auto_line.expires_at == SimLine.objects.get(pk=auto_line.pk).expires_at  # nothing cut


def test_retries_follow_the_schedule_and_a_new_card_recovers(auto_line, stripe_peer):
    with_card(auto_line, stripe_peer, "insufficient_funds")
    auto_renew_run()
    case = FailedPaymentCase.objects.get(renewal__line=auto_line)
    assert case.next_retry_at == case.opened_at + timedelta(days=1)
    assert retries_run() == 0  # not due yet
    with time_machine.travel(case.next_retry_at + timedelta(minutes=1)):
        retries_run()
    case.refresh_from_db()
    assert (case.attempts, case.status) == (2, "open")
    assert case.next_retry_at == case.opened_at + timedelta(days=3)
    with_card(auto_line, stripe_peer)  # the customer saved a new card
    with time_machine.travel(case.next_retry_at + timedelta(minutes=1)):
        assert retries_run() == 1
    case.refresh_from_db()
    assert case.status == "recovered" and case.closed_at is not None
    assert Payment.objects.filter(renewal=case.renewal, status="succeeded").count() == 1
    assert Payment.objects.filter(renewal=case.renewal).count() == 3  # every attempt recorded


def test_no_retry_after_the_grace_period(auto_line, stripe_peer):
    with_card(auto_line, stripe_peer, "insufficient_funds")
    auto_renew_run()
    case = FailedPaymentCase.objects.get(renewal__line=auto_line)
    # opened 20 h before expiry, grace 72 h: retries at +1 and +3 days fit, +5 days does not
    assert case.grace_ends_at == auto_line.expires_at + timedelta(hours=72)
    for _ in range(2):
        with time_machine.travel(case.next_retry_at + timedelta(minutes=1)):
            retries_run()
        case.refresh_from_db()
    assert case.attempts == 3 and case.next_retry_at is None


def test_the_customer_recovers_by_paying_with_alipay_through_the_link(
    auto_line, stripe_peer, client, django_capture_on_commit_callbacks
):
    with_card(auto_line, stripe_peer, "insufficient_funds")
    auto_renew_run()
    case = FailedPaymentCase.objects.get(renewal__line=auto_line)
    from payments.links import renewal_pay_url

    link = renewal_pay_url(case.renewal).removeprefix("http://127.0.0.1:8000")
    assert client.get(link).status_code == 200
    redirect = client.post(link, {"method": "alipay"})
    assert redirect.status_code == 302 and "/payments/pay/" in redirect["Location"]
    alipay = Payment.objects.get(renewal=case.renewal, method="alipay")
    peer_side.customer_pays_with_wallet(stripe_peer.base_url, alipay.stripe_payment_intent_id, "alipay")
    peer_side.customer_authenticates(stripe_peer.base_url, alipay.stripe_payment_intent_id)
    from payments.links import return_url

    with django_capture_on_commit_callbacks(execute=True):
        page = client.get(return_url(alipay))
    assert b"payment-status" in page.content
    case.refresh_from_db()
    assert case.status == "recovered"
    assert Renewal.objects.get(pk=case.renewal_id).status in Renewal.GRANTED_STATUSES


def test_at_the_end_of_grace_auto_renew_stops_and_the_line_keeps_what_was_paid(
    auto_line, stripe_peer, django_capture_on_commit_callbacks
):
    with_card(auto_line, stripe_peer, "lost_card")  # no retries
    auto_renew_run()
    case = FailedPaymentCase.objects.get(renewal__line=auto_line)
    with time_machine.travel(case.grace_ends_at + timedelta(minutes=1)):
        with django_capture_on_commit_callbacks(execute=True):
            assert grace_end_run() == 1
    case.refresh_from_db()
    line = SimLine.objects.get(pk=auto_line.pk)
    assert case.status == "written_off"
    assert line.auto_renew is False and line.expires_at == auto_line.expires_at
    assert Renewal.objects.get(pk=case.renewal_id).status == "cancelled"
    assert notices(auto_line, "auto_renew_ended")


def test_the_end_of_grace_waits_while_a_last_retry_is_charging_the_card(auto_line, stripe_peer):
    from payments.checkout import attempt_create
    from payments.models import PaymentMethod

    with_card(auto_line, stripe_peer, "lost_card")
    auto_renew_run()
    case = FailedPaymentCase.objects.get(renewal__line=auto_line)
    waiting = case.renewal.status
    with time_machine.travel(case.grace_ends_at + timedelta(minutes=1), tick=False):
        # A retry's attempt, committed before its charge, Stripe not answered yet.
        attempt_create(renewal=case.renewal, method=PaymentMethod.CARD, off_session=True)
        assert grace_end_run() == 0
        case.refresh_from_db()
        assert case.status == "open"
        assert SimLine.objects.get(pk=auto_line.pk).auto_renew is True
        assert Renewal.objects.get(pk=case.renewal_id).status == waiting
    # The retry's worker was lost: once its attempt is no longer presumed in flight, grace ends.
    with time_machine.travel(case.grace_ends_at + timedelta(minutes=IN_FLIGHT_MINUTES + 2)):
        assert grace_end_run() == 1
    assert Renewal.objects.get(pk=case.renewal_id).status == "cancelled"


def test_a_manual_renewal_of_the_line_settles_the_case_without_a_charge(auto_line, stripe_peer, staff_actor):
    from payments.manual import line_renew_with_manual_payment

    with_card(auto_line, stripe_peer, "insufficient_funds")
    auto_renew_run()
    case = FailedPaymentCase.objects.get(renewal__line=auto_line)
    line_renew_with_manual_payment(
        line=auto_line,
        plan=auto_line.plan,
        currency="EUR",
        method="cash",
        amount=Decimal("19.90"),
        reference="till",
        idempotency_key="counter-1",
        actor=staff_actor,
    )
    with_card(auto_line, stripe_peer)
    with time_machine.travel(case.next_retry_at + timedelta(minutes=1)):
        retries_run()
    case.refresh_from_db()
    assert case.status == "cancelled"
    assert not Payment.objects.filter(renewal=case.renewal, status="succeeded").exists()


@pytest.mark.usefixtures("on_postgres")
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_manual_payment_arriving_during_a_retry_charges_once(auto_line, stripe_peer, manager):
    from payments.manual import payment_record_manual

    with_card(auto_line, stripe_peer, "insufficient_funds")
    auto_renew_run()
    case = FailedPaymentCase.objects.get(renewal__line=auto_line)
    with_card(auto_line, stripe_peer)

    def contender(i):
        if i == 0:
            return case_retry(case_id=case.pk, actor=ACTOR)
        try:
            return payment_record_manual(
                renewal=Renewal.objects.get(pk=case.renewal_id),
                method="cash",
                amount=Decimal("19.90"),
                currency="EUR",
                reference="till",
                actor=Actor.staff(manager),
            )
        except DomainError as exc:
            return exc.code

    run_concurrently(contender, 2)
    assert Payment.objects.filter(renewal_id=case.renewal_id, status="succeeded").count() == 1
    charged = [
        pi
        for pi in stripe_peer.client()
        .v1.payment_intents.list({"customer": auto_line.customer.stripe_customer_id})
        .data
        if pi.status == "succeeded"
    ]
    manual = Payment.objects.filter(renewal_id=case.renewal_id, method="cash", status="succeeded").exists()
    assert len(charged) == (0 if manual else 1)


def test_the_customer_declined_on_the_link_is_recorded_on_the_case(auto_line, stripe_peer, client):
    with_card(auto_line, stripe_peer, "insufficient_funds")
    auto_renew_run()
    case = FailedPaymentCase.objects.get(renewal__line=auto_line)
    from payments.checkout import payment_refresh, payment_start

    card = payment_start(renewal=case.renewal, method="card", actor=ACTOR).payment
    peer_side.customer_pays(
        stripe_peer.base_url, card.stripe_payment_intent_id, "pm_card_chargeDeclinedExpiredCard"
    )
    payment_refresh(card, actor=ACTOR)
    case.refresh_from_db()
    assert (case.attempts, case.last_decline_code, case.status) == (2, "expired_card", "open")


@pytest.mark.usefixtures("on_postgres")
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_processes_running_the_job_at_once_charge_once(auto_line, stripe_peer):
    """Two separate Python processes (two workers on two machines, say), started together."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from django.db import connection

    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_ENV": "test",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
        f"/{db['NAME']}",
        "STRIPE_API_BASE": stripe_peer.base_url,
        "STRIPE_SECRET_KEY": stripe_peer.secret_key,
    }
    script = "from payments.autorenew import auto_renew_run; print('renewed', auto_renew_run())"
    root = Path(__file__).resolve().parents[2]
    processes = [
        subprocess.Popen(
            [sys.executable, "manage.py", "shell", "-c", script],
            cwd=root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [process.communicate(timeout=120) for process in processes]
    assert all(process.returncode == 0 for process in processes), outputs
    assert sorted(out.strip().splitlines()[-1] for out, _ in outputs) == ["renewed 0", "renewed 1"], outputs
    assert Payment.objects.filter(renewal__line=auto_line, status="succeeded").count() == 1
    charges = stripe_peer.client().v1.payment_intents.list(
        {"customer": auto_line.customer.stripe_customer_id}
    )
    assert [pi.status for pi in charges.data] == ["succeeded"]
