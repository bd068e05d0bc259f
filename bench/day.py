"""A scripted day of traffic against the multi-process layout that ``scripts/day`` starts
(gunicorn, Celery workers and beat, the local Stripe peer, PostgreSQL, Redis).

    python -m bench.day setup     # before the processes start: people, plans, a wallet, a key
    python -m bench.day traffic   # the day, then wait for the queues, then the consistency check

Web channels go over HTTP to gunicorn (the partner API with its key, Stripe's webhooks from
the peer); the customer's side of a payment is the peer's (confirming a PaymentIntent as
Stripe.js does); what staff do in the admin and what a customer starts on their pages is the
service those views call, from this process, against the same database. Everything after
that (webhook processing, activation, receipts, auto-renew, reminders, refunds' completion)
is done by the Celery workers and beat. The exit status is the consistency check's.
"""

import io
import json
import os
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from datetime import timedelta
from decimal import Decimal

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "reseller.settings")
django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.utils import timezone  # noqa: E402
from django_celery_beat.models import IntervalSchedule, PeriodicTask  # noqa: E402

from accounts.identifiers import make_iccid, make_msisdn  # noqa: E402
from accounts.models import Customer, Partner, SimLine  # noqa: E402
from api.keys import api_key_issue  # noqa: E402
from notifications.models import NotificationLog  # noqa: E402
from payments.autorenew import line_auto_renew_set  # noqa: E402
from payments.checkout import renewal_checkout_start  # noqa: E402
from payments.manual import payment_record_manual  # noqa: E402
from payments.models import Payment, ProviderEvent, Refund, SavedPaymentMethod  # noqa: E402
from payments.receipt_mail import receipts_unsent  # noqa: E402
from payments.refunds import refund_request  # noqa: E402
from payments.saved_methods import saved_method_setup_start  # noqa: E402
from payments.topup import topup_number_parse, topup_pay, topup_payer  # noqa: E402
from payments.wallet import wallet_top_up  # noqa: E402
from plans.models import Plan, Price, Renewal  # noqa: E402
from plans.renewals import renewal_request  # noqa: E402
from plans.usage_import import usage_import  # noqa: E402
from reseller.actors import Actor  # noqa: E402
from reseller.consistency import consistency_check  # noqa: E402
from tests import stripe_peer as peer  # noqa: E402

WEB = os.environ.get("DAY_WEB_URL", "http://127.0.0.1:8470")
PEER = settings.STRIPE_API_BASE
STATE = os.environ.get("DAY_STATE", os.path.join(tempfile.gettempdir(), "reseller-day.json"))
#: Lines per channel: small enough for the day to stay within a few minutes on 2 CPUs.
PER_CHANNEL = int(os.environ.get("DAY_LINES_PER_CHANNEL", "6"))
DRAIN_TIMEOUT = int(os.environ.get("DAY_DRAIN_TIMEOUT", "150"))


def setup() -> None:
    """People, a plan with retail and partner prices, lines per channel, a topped-up partner
    wallet and its API key, and every periodic job due every 10 s (a day compressed)."""
    users = get_user_model()
    staff = users.objects.create_user("day-billing", "billing@day.example", is_staff=True, is_superuser=True)
    plan = Plan.objects.create(
        code="day-30d",
        name_en="Day 30",
        name_fr="Jour 30",
        name_zh_hans="30天",
        validity_days=30,
        data_mb=5000,
    )
    Price.objects.create(plan=plan, currency="EUR", amount=Decimal("19.90"))
    Price.objects.create(plan=plan, currency="EUR", channel="partner", amount=Decimal("15.00"))
    partner = Partner.objects.create(name="Day agency", code="day-agency")
    wallet_top_up(
        partner=partner, amount=Decimal("500.00"), currency="EUR", actor=Actor.staff(staff), reason="TR-DAY-1"
    )
    key = api_key_issue(
        name="day", partner=partner, scopes={"read", "write", "refund"}, actor=Actor.staff(staff)
    )
    soon = timezone.now() + timedelta(hours=20)  # due for auto-renew and the 1-day reminder
    lines: dict[str, list[int]] = {}
    serial = 0
    for channel in ("self_service", "public_topup", "admin", "partner_api", "auto_renew", "failed_retry"):
        for _ in range(PER_CHANNEL):
            serial += 1
            user = users.objects.create_user(f"day-customer-{serial}", f"c{serial}@day.example")
            customer = Customer.objects.create(
                user=user,
                full_name=f"Day customer {serial}",
                email=f"c{serial}@day.example",
                partner=partner if channel == "partner_api" else None,
                timezone="Europe/Paris",
            )
            line = SimLine.objects.create(
                customer=customer,
                iccid=make_iccid(7_000_000 + serial),
                msisdn=make_msisdn(70_000_000 + serial),
                plan=plan,
                status=SimLine.Status.ACTIVE,
                expires_at=soon,
            )
            lines.setdefault(channel, []).append(line.pk)
    every = IntervalSchedule.objects.get_or_create(every=10, period=IntervalSchedule.SECONDS)[0]
    PeriodicTask.objects.filter(interval__isnull=False).update(interval=every)
    with open(STATE, "w") as file:
        json.dump({"key": key.raw, "staff": staff.pk, "plan": plan.pk, "lines": lines}, file)
    print(f"setup: {serial} lines, partner wallet 500.00 EUR, periodic jobs every 10 s")


def _api(method: str, path: str, key: str, body: dict | None = None, idempotency_key: str = "") -> dict:
    request = urllib.request.Request(  # noqa: S310 (our own gunicorn, http on loopback)
        f"{WEB}/api/v1{path}",
        data=json.dumps(body).encode() if body is not None else None,
        method=method,
        headers={
            "Authorization": f"Bearer {key}",
            "Content-Type": "application/json",
            **({"Idempotency-Key": idempotency_key} if idempotency_key else {}),
        },
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (our own gunicorn)
        return json.loads(response.read())


def _intent_id(checkout) -> str:
    return checkout.client_secret.split("_secret_")[0]


def _self_service_intent(line: SimLine, plan: Plan, key: str) -> str:
    """What the customer's renew page does: the renewal and its card payment; the intent's id."""
    checkout = renewal_checkout_start(
        line=line,
        plan=plan,
        currency="EUR",
        method="card",
        channel="self_service",
        idempotency_key=key,
        actor=Actor.customer(line.customer.user),
    )
    return _intent_id(checkout)


def traffic() -> int:
    started = time.monotonic()
    with open(STATE) as file:
        state = json.load(file)
    staff = get_user_model().objects.get(pk=state["staff"])
    billing = Actor.staff(staff)
    plan = Plan.objects.get(pk=state["plan"])
    lines = {channel: list(SimLine.objects.filter(pk__in=ids)) for channel, ids in state["lines"].items()}
    done = Counter()

    # Auto-renew: each customer saves a card on Stripe's fields (the webhook records it), then
    # turns auto-renew on; beat's job charges the lines due within 48 h, off-session.
    for line in lines["auto_renew"]:
        setup_checkout = saved_method_setup_start(customer=line.customer, actor=billing, attempt_key="day")
        peer.customer_saves_card(PEER, setup_checkout.setup_intent_id)
    for line in lines["self_service"]:
        peer.customer_pays(PEER, _self_service_intent(line, plan, f"day-self-{line.pk}"))
        done["self_service"] += 1
    for line in lines["public_topup"]:
        email = f"payer-{line.pk}@day.example"
        checkout = topup_pay(
            number=topup_number_parse(line.iccid),
            plan=plan,
            currency="EUR",
            method="card",
            email=email,
            language="fr",
            attempt=f"day-{line.pk}",
            actor=topup_payer(email),
        )
        peer.customer_pays(PEER, _intent_id(checkout))
        done["public_topup"] += 1
    for line in lines["failed_retry"]:
        intent_id = _self_service_intent(line, plan, f"day-retry-{line.pk}")
        declined = peer.customer_pays(PEER, intent_id, "pm_card_chargeDeclinedInsufficientFunds")
        if declined["status"] != "requires_payment_method":
            raise SystemExit(f"day: a declined card left the payment {declined['status']}")
        peer.customer_pays(PEER, intent_id)  # the customer tries another card
        done["failed_then_paid"] += 1
    for line in lines["admin"]:
        renewal = renewal_request(
            line=line,
            plan=plan,
            currency="EUR",
            channel="admin",
            idempotency_key=f"day-admin-{line.pk}",
            actor=billing,
        )
        payment_record_manual(
            renewal=renewal,
            method="cash",
            amount=renewal.price_amount,
            currency="EUR",
            reference=f"till {line.pk}",
            actor=billing,
        )
        done["admin"] += 1
    api_payments = []
    for line in lines["partner_api"]:
        renewal = _api(
            "POST", "/renewals/", state["key"], {"line": line.pk, "plan": plan.code}, f"day-{line.pk}"
        )
        api_payments.append(Payment.objects.get(renewal_id=renewal["id"], status=Payment.Status.SUCCEEDED))
        done["partner_api"] += 1
    _wait("saved cards recorded from webhooks", lambda: saved_count(lines) == len(lines["auto_renew"]))
    for line in lines["auto_renew"]:
        method = SavedPaymentMethod.objects.get(customer=line.customer)
        line_auto_renew_set(
            line=line, enabled=True, actor=billing, reason="day: customer asked", plan=plan, method=method
        )

    # A usage file, as the carrier sends it, imported by staff.
    rows = ["iccid,recorded_at,data_bytes,voice_minutes,sms,record_id"]
    now = timezone.now().strftime("%Y-%m-%dT%H:%M:%SZ")
    for index, line in enumerate(
        SimLine.objects.filter(pk__in=[pk for ids in state["lines"].values() for pk in ids])
    ):
        rows.append(f"{line.iccid},{now},{(index + 1) * 1_000_000},1,0,DAY-{index}")
    report = usage_import(file=io.BytesIO("\n".join(rows).encode()), filename="day.csv", actor=billing)
    done["usage_rows"] = report.rows_applied

    # Card payments must have succeeded (webhook → worker) before they can be refunded.
    card_payments = Payment.objects.filter(renewal__line__in=lines["self_service"], method="card")
    _wait(
        "card payments confirmed by webhooks",
        lambda: card_payments.filter(status=Payment.Status.SUCCEEDED).count() == len(lines["self_service"]),
    )
    succeeded = list(card_payments.filter(status=Payment.Status.SUCCEEDED).order_by("pk"))
    refund_request(  # admin, full, ending the period
        payment=succeeded[0],
        amount=succeeded[0].amount,
        reason="customer_request",
        entitlement="end_period",
        actor=billing,
        idempotency_key="day-admin-full",
    )
    refund_request(  # admin, partial, keeping the period
        payment=succeeded[1],
        amount=Decimal("5.00"),
        reason="goodwill",
        entitlement="keep",
        actor=billing,
        idempotency_key="day-admin-partial",
    )
    _api(
        "POST",
        "/refunds/",
        state["key"],
        {"payment": api_payments[0].pk, "amount": "15.00", "reason": "customer_request"},
        "day-api-full",
    )
    _api(
        "POST",
        "/refunds/",
        state["key"],
        {"payment": api_payments[1].pk, "amount": "4.00", "reason": "goodwill"},
        "day-api-partial",
    )
    done["refunds"] = 4

    # Beat: auto-renew charges, reminders; the workers: activation, receipts, refunds' webhooks.
    auto = Renewal.objects.filter(
        line__in=lines["auto_renew"], channel="auto_renew", status__in=Renewal.GRANTED_STATUSES
    )
    _wait("auto-renew by beat", lambda: auto.count() == len(lines["auto_renew"]))
    done["auto_renew"] = auto.count()
    _wait("queues drained", drained)
    done["reminders"] = NotificationLog.objects.filter(kind__startswith="expiry").count()

    report = consistency_check()
    print(report.as_text())
    summary = Counter(
        Renewal.objects.filter(status__in=(*Renewal.GRANTED_STATUSES, Renewal.Status.REFUNDED)).values_list(
            "channel", flat=True
        )
    )
    print("\nrenewals granted per channel:", dict(summary))
    print("traffic:", dict(done))
    print(
        f"payments: {Payment.objects.filter(status='succeeded').count()} succeeded, "
        f"refunds: {Refund.objects.filter(status='succeeded').count()} succeeded, "
        f"webhook events: {ProviderEvent.objects.count()}, notifications: {NotificationLog.objects.count()}"
    )
    # Every message of the day went out: a notification that failed or a receipt never e-mailed
    # is a lost message, which the consistency check (money and periods) does not see.
    failed = NotificationLog.objects.exclude(status="sent")
    unsent = receipts_unsent()
    print(
        f"messages: {NotificationLog.objects.filter(status='sent').count()} notifications sent, "
        f"{failed.count()} not sent; receipts e-mailed: "
        f"{Payment.objects.filter(receipt_sent_at__isnull=False).count()}, not e-mailed: {unsent.count()}"
    )
    for log in failed[:5]:
        print(f"  notification {log.pk} ({log.kind}, {log.channel}) {log.status}: {log.error[:200]}")
    delivered = not failed.exists() and not unsent.exists()
    ok = report.ok and delivered
    print(
        f"day: {time.monotonic() - started:.0f} s, consistency {'PASS' if report.ok else 'FAIL'}, "
        f"messages {'PASS' if delivered else 'FAIL'}"
    )
    return 0 if ok else 1


def saved_count(lines) -> int:
    return SavedPaymentMethod.objects.filter(customer__lines__in=lines["auto_renew"]).count()


def drained() -> bool:
    return not (
        Renewal.objects.filter(status__in=[Renewal.Status.PAID, Renewal.Status.ACTIVATING]).exists()
        or ProviderEvent.objects.filter(processed_at__isnull=True).exists()
        or Refund.objects.filter(status=Refund.Status.PENDING).exists()
        or NotificationLog.objects.filter(status="pending").exists()
        or receipts_unsent().exists()
    )


def _wait(what: str, condition) -> None:
    deadline = time.monotonic() + DRAIN_TIMEOUT
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"day: gave up waiting for {what} after {DRAIN_TIMEOUT} s")
        time.sleep(1)
    print(f"day: {what}")


if __name__ == "__main__":
    phase = sys.argv[1] if len(sys.argv) > 1 else ""
    if phase == "setup":
        setup()
    elif phase == "traffic":
        sys.exit(traffic())
    else:
        sys.exit("usage: python -m bench.day setup|traffic")
