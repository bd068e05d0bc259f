"""Writing the blueprint: the catalogue, the partners, the customers with their lines,
renewals, payments, refunds, declines and usage, and the staff logins. Every row is keyed on
a stable code, e-mail, ICCID, idempotency key or carrier record id, so a second run updates
rows in place and adds none."""

import bisect
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.demo.blueprint import (
    CATALOGUE,
    DECLINE_MESSAGES,
    DEMO_PARTNERS,
    PLAN_SPECS,
    CustomerSpec,
    LineSpec,
    PlanSpec,
    RenewalSpec,
    demo_blueprint,
)
from accounts.demo.history import history_audit
from accounts.models import Customer, Partner, SimLine
from accounts.roles import BILLING, MANAGER, SUPPORT
from payments.models import FailedPaymentCase, Payment, PaymentMethod, Refund
from payments.receipts import format_receipt_number, receipt_numbers_reserve, receipt_year
from plans.models import Plan, Price, PriceChannel, Renewal, Usage

DEMO_SCOPE = "demo"

Channel = Renewal.Channel
Method = PaymentMethod


@dataclass(frozen=True)
class DemoSummary:
    plans: int
    customers: int
    lines: int


def demo_anchor() -> datetime:
    """The run's "now", to the hour: two runs within the same hour write the same dates."""
    return timezone.now().replace(minute=0, second=0, microsecond=0)


def _upsert(model, rows: list, *, key: list[str]) -> list:
    """Insert or update ``rows`` by their unique ``key`` in one statement (ON CONFLICT DO
    UPDATE); returns them with primary keys, in order. Re-seeding thus never duplicates."""
    update_fields = [
        f.name
        for f in model._meta.concrete_fields
        if not f.primary_key and f.name not in key and not getattr(f, "auto_now_add", False)
    ]
    return model.objects.bulk_create(
        rows, update_conflicts=True, unique_fields=key, update_fields=update_fields
    )


@transaction.atomic
def seed_demo_data(*, anchor: datetime | None = None) -> DemoSummary:
    """Write the catalogue, the two partners and the blueprint's customers with their lines,
    renewals, payments, refunds, declines and usage, and the audit entries of that history;
    all or nothing."""
    anchor = anchor or demo_anchor()
    plans = seed_catalogue()
    partners = seed_partners()
    blueprint = demo_blueprint()
    owners: list[tuple[Customer, LineSpec]] = []
    for customer_spec in blueprint:
        customer = _upsert_customer(customer_spec, partners)
        owners += [(customer, line_spec) for line_spec in customer_spec.lines]
    lines = _upsert(
        SimLine, [_line(customer, spec, plans, anchor) for customer, spec in owners], key=["iccid"]
    )
    histories = [
        (line, customer, spec, renewal_spec)
        for line, (customer, spec) in zip(lines, owners, strict=True)
        for renewal_spec in spec.renewals
    ]
    renewals = _upsert(
        Renewal,
        [_renewal(line, r_spec, plans, anchor) for line, _, _, r_spec in histories],
        key=["idempotency_scope", "idempotency_key"],
    )
    paid = [
        (renewal, r_spec, customer)
        for renewal, (_, customer, _, r_spec) in zip(renewals, histories, strict=True)
    ]
    _settle_payments(paid)
    for renewal, r_spec, customer in paid:
        if r_spec.declined_first:
            _upsert_failed_payment(renewal, customer, r_spec.declined_first, before=renewal.paid_at)
        if r_spec.refunded:
            _upsert_refund(renewal, anchor)
    current = {renewal.line_id: renewal for renewal in renewals}  # the last one of each line wins
    usage = []
    for line, (customer, spec) in zip(lines, owners, strict=True):
        if spec.open_case_decline:
            _upsert_declined_auto_renewal(line, spec, customer, plans, anchor)
        usage += _usage(line, spec, current.get(line.pk), anchor)
    _upsert(Usage, usage, key=["source_record_id"])
    history_audit(Renewal.objects.filter(idempotency_scope=DEMO_SCOPE))
    return DemoSummary(plans=len(plans), customers=len(blueprint), lines=len(lines))


def seed_catalogue() -> dict[str, Plan]:
    plans = _upsert(Plan, [_plan(spec, order) for order, spec in enumerate(CATALOGUE, start=1)], key=["code"])
    prices = [
        Price(plan=plan, channel=channel, currency=currency, amount=amount)
        for plan, spec in zip(plans, CATALOGUE, strict=True)
        for channel, currency, amount in [
            *((PriceChannel.RETAIL, currency, amount) for currency, amount in spec.retail.items()),
            (PriceChannel.PARTNER, "EUR", spec.partner_eur),
        ]
    ]
    _upsert(Price, prices, key=["plan", "currency", "channel"])
    return {plan.code: plan for plan in plans}


def _plan(spec: PlanSpec, order: int) -> Plan:
    return Plan(
        code=spec.code,
        name_en=spec.name_en,
        name_fr=spec.name_fr,
        name_zh_hans=spec.name_zh_hans,
        validity_days=spec.validity_days,
        data_mb=spec.data_mb,
        voice_minutes=spec.voice_minutes,
        sms=spec.sms,
        coverage=list(spec.coverage),
        for_physical=spec.for_physical,
        for_esim=spec.for_esim,
        activation_policy=spec.activation_policy,
        is_active=True,
        is_auto_renewable=spec.is_auto_renewable,
        sort_order=order * 10,
    )


def seed_partners() -> dict[str, Partner]:
    rows = [
        Partner(code=spec.code, name=spec.name, contact_email=spec.contact_email, default_currency="EUR")
        for spec in DEMO_PARTNERS
    ]
    return {partner.code: partner for partner in _upsert(Partner, rows, key=["code"])}


def _upsert_customer(spec: CustomerSpec, partners: dict[str, Partner]) -> Customer:
    # Keyed on e-mail, which has no unique constraint, so no ON CONFLICT here.
    customer, _ = Customer.objects.update_or_create(
        email=spec.email,
        defaults={
            "full_name": spec.full_name,
            "phone": spec.phone,
            "partner": partners[spec.partner_code] if spec.partner_code else None,
            "address_line1": spec.address_line1,
            "address_line2": spec.address_line2,
            "postal_code": spec.postal_code,
            "city": spec.city,
            "country": "FR",
            "language": spec.language,
            "currency": spec.currency,
            "timezone": spec.timezone,
        },
    )
    return customer


def _line(customer: Customer, spec: LineSpec, plans: dict[str, Plan], anchor: datetime) -> SimLine:
    return SimLine(
        customer=customer,
        iccid=spec.iccid,
        msisdn=spec.msisdn,
        kind=spec.kind,
        activation_code=spec.activation_code,
        status=spec.status,
        plan=plans[spec.renewals[-1].plan_code] if spec.renewals else None,
        expires_at=anchor + spec.expires if spec.expires is not None else None,
        auto_renew=spec.auto_renew_plan_code is not None,
        auto_renew_plan=plans.get(spec.auto_renew_plan_code),
        activated_at=anchor + spec.renewals[0].start if spec.renewals else None,
    )


def _snapshot(plan: Plan) -> dict:
    """What a renewal copies from its plan, so later catalogue edits change no purchase."""
    return {
        "plan": plan,
        "data_mb": plan.data_mb,
        "voice_minutes": plan.voice_minutes,
        "sms": plan.sms,
        "validity_days": plan.validity_days,
    }


def _renewal(line: SimLine, spec: RenewalSpec, plans: dict[str, Plan], anchor: datetime) -> Renewal:
    start, paid = anchor + spec.start, anchor + spec.paid
    return Renewal(
        **_snapshot(plans[spec.plan_code]),
        line=line,
        channel=spec.channel,
        status=Renewal.Status.REFUNDED if spec.refunded else Renewal.Status.ACTIVE,
        price_amount=spec.price,
        currency=spec.currency,
        idempotency_scope=DEMO_SCOPE,
        idempotency_key=f"{line.iccid}-{spec.number}",
        period_start=start,
        period_end=anchor + spec.end,
        paid_at=paid,
        activated_at=max(paid, start) + timedelta(minutes=2),
        activation_attempts=1,
        carrier_reference=f"SBX-{line.iccid[-10:]}-{spec.number}",
    )


def _manual_reference(renewal: Renewal, method: str) -> str:
    if method == Method.BANK_TRANSFER:
        return f"VIR-{renewal.idempotency_key}"
    if method == Method.CASH:
        return f"CAISSE-{renewal.idempotency_key}"
    return ""


def _settle_payments(paid: list[tuple[Renewal, RenewalSpec, Customer]]) -> None:
    """One succeeded payment per paid renewal. Existing ones keep their receipt number; only
    new ones draw numbers, so re-seeding leaves no gap in the sequence."""
    existing = {
        payment.renewal_id: payment
        for payment in Payment.objects.filter(
            renewal__in=[renewal for renewal, _, _ in paid], status=Payment.Status.SUCCEEDED
        )
    }
    to_update, to_create = [], []
    for renewal, spec, customer in paid:
        values = {
            "customer": customer,
            "amount": renewal.price_amount,
            "currency": renewal.currency,
            "method": spec.method,
            "paid_at": renewal.paid_at,
            "manual_reference": _manual_reference(renewal, spec.method),
        }
        payment = existing.get(renewal.pk)
        if payment is None:
            to_create.append(Payment(renewal=renewal, status=Payment.Status.SUCCEEDED, **values))
        else:
            for name, value in values.items():
                setattr(payment, name, value)
            to_update.append(payment)
    Payment.objects.bulk_update(to_update, list(values))
    receipts = receipt_numbers_in_paid_order([payment.paid_at for payment in to_create])
    for payment, receipt in zip(to_create, receipts, strict=True):
        payment.receipt_number = receipt
    Payment.objects.bulk_create(to_create)
    # created_at is auto_now_add; backdate it so lists sorted by creation read like history.
    renewal_ids = [renewal.pk for renewal, _, _ in paid]
    Renewal.objects.filter(pk__in=renewal_ids).update(created_at=F("paid_at") - timedelta(minutes=5))
    Payment.objects.filter(renewal__in=renewal_ids, status=Payment.Status.SUCCEEDED).update(
        created_at=F("paid_at") - timedelta(minutes=1)
    )


def _upsert_failed_payment(
    renewal: Renewal, customer: Customer, decline_code: str, *, before: datetime
) -> Payment:
    # Keyed on (renewal, failed): the demo has at most one failed attempt per renewal.
    payment = Payment.objects.filter(renewal=renewal, status=Payment.Status.FAILED).first()
    payment = payment or Payment(renewal=renewal, status=Payment.Status.FAILED)
    payment.customer = customer
    payment.amount = renewal.price_amount
    payment.currency = renewal.currency
    payment.method = Method.CARD
    payment.decline_code = decline_code
    payment.failure_message = DECLINE_MESSAGES[decline_code][customer.language]
    payment.save()
    Payment.objects.filter(pk=payment.pk).update(created_at=before - timedelta(minutes=10))
    return payment


def _upsert_refund(renewal: Renewal, anchor: datetime) -> None:
    payment = Payment.objects.get(renewal=renewal, status=Payment.Status.SUCCEEDED)
    Refund.objects.update_or_create(
        idempotency_key=f"{DEMO_SCOPE}-{renewal.idempotency_key}",
        defaults={
            "payment": payment,
            "amount": payment.amount,
            "currency": payment.currency,
            "status": Refund.Status.SUCCEEDED,
            "reason": Refund.Reason.SERVICE_FAILURE,
            "comment": "No data for the first days of the period (network outage); refunded in full.",
            "entitlement": Refund.Entitlement.KEEP,
            "completed_at": min(anchor, renewal.paid_at + timedelta(days=2)),
        },
    )


def _upsert_declined_auto_renewal(
    line: SimLine, spec: LineSpec, customer: Customer, plans: dict[str, Plan], anchor: datetime
) -> None:
    """The auto-renewal charged before expiry was declined: a failed renewal, its failed
    payment and an open follow-up case with a retry scheduled before the line expires."""
    plan = plans[spec.auto_renew_plan_code]
    renewal, _ = Renewal.objects.update_or_create(
        idempotency_scope=DEMO_SCOPE,
        idempotency_key=f"{line.iccid}-{len(spec.renewals) + 1}",
        defaults={
            **_snapshot(plan),
            "line": line,
            "channel": Channel.AUTO_RENEW,
            "status": Renewal.Status.FAILED,
            "price_amount": PLAN_SPECS[plan.code].retail[customer.currency],
            "currency": customer.currency,
            "period_start": None,
            "period_end": None,
            "paid_at": None,
        },
    )
    declined_at = anchor - timedelta(hours=2)
    payment = _upsert_failed_payment(renewal, customer, spec.open_case_decline, before=declined_at)
    case = FailedPaymentCase.objects.filter(renewal=renewal, status=FailedPaymentCase.Status.OPEN).first()
    case = case or FailedPaymentCase(renewal=renewal, status=FailedPaymentCase.Status.OPEN)
    case.payment = payment
    case.last_decline_code = spec.open_case_decline
    case.attempts = 1
    case.next_retry_at = anchor + timedelta(hours=12)
    case.grace_ends_at = line.expires_at + timedelta(days=3)
    case.customer_notified_at = declined_at + timedelta(minutes=5)
    case.notes = "Card declined (insufficient funds); customer told by e-mail with a link to pay another way."
    case.save()


def _usage(line: SimLine, spec: LineSpec, current: Renewal | None, anchor: datetime) -> list[Usage]:
    if not spec.usage:
        return []
    elapsed = anchor - current.period_start
    return [
        Usage(
            line=line,
            source_record_id=f"demo-{line.iccid}-{number}",
            recorded_at=current.period_start + elapsed * record.position,
            data_bytes=record.data_mb * 1024 * 1024,
            voice_minutes=record.voice_minutes,
            sms=record.sms,
        )
        for number, record in enumerate(spec.usage, start=1)
    ]


# --- Receipts --------------------------------------------------------------------------------


def receipt_numbers_in_paid_order(paid_at: list[datetime]) -> list[str]:
    """Receipt numbers for payments paid at ``paid_at`` (in that order), numbered in the
    order they were paid, one reserved block per receipt year."""
    if not paid_at:
        return []
    order = sorted(range(len(paid_at)), key=paid_at.__getitem__)
    times = [paid_at[i] for i in order]
    receipts = [""] * len(paid_at)
    start = 0
    for year in range(receipt_year(times[0]), receipt_year(times[-1]) + 1):
        # The year only grows with the time: bisecting converts a handful of the times to the
        # business's zone instead of every one of them (100 000 in a bulk run).
        stop = bisect.bisect_right(times, year, lo=start, key=receipt_year)
        group = order[start:stop]
        if group:
            for i, number in zip(group, receipt_numbers_reserve(year=year, count=len(group)), strict=True):
                receipts[i] = format_receipt_number(year, number)
        start = stop
    return receipts


# --- Staff -------------------------------------------------------------------------------------

STAFF_LOGINS = (
    ("manager", MANAGER, "Manager: catalogue, prices, partners, everything"),
    ("support", SUPPORT, "Support agent: customers, lines, corrections"),
    ("billing", BILLING, "Billing agent: payments, refunds, failed payments"),
)


def new_staff_password() -> str:
    return secrets.token_urlsafe(12)


#: the demo customer who can sign in (the blueprint's first customer), with the staff password
DEMO_CUSTOMER_USERNAME = "demo-customer"


@transaction.atomic
def seed_staff(*, password: str) -> None:
    """Create or reset the three demo staff logins, each in exactly its role's group, and the
    demo customer's login; all with ``password`` and a verified e-mail (sign-in requires one)."""
    user_model = get_user_model()
    for username, role, _ in STAFF_LOGINS:
        user, _ = user_model.objects.get_or_create(
            username=username, defaults={"email": f"{username}@example.com"}
        )
        user.is_staff = True
        user.is_superuser = False
        user.is_active = True
        user.set_password(password)
        user.save()
        user.groups.set([Group.objects.get(name=role)])
        _verified_email(user)
    seed_demo_customer_login(password=password)


def demo_customer_email() -> str:
    return demo_blueprint()[0].email


def seed_demo_customer_login(*, password: str) -> None:
    """The first demo customer gets a login (e-mail and ``password``, or a code by e-mail)."""
    customer = Customer.objects.filter(email=demo_customer_email()).first()
    if customer is None:  # demo data not loaded
        return
    user, _ = get_user_model().objects.get_or_create(username=DEMO_CUSTOMER_USERNAME)
    user.email = customer.email
    user.first_name = customer.full_name[:150]
    user.is_staff = user.is_superuser = False
    user.is_active = True
    user.set_password(password)
    user.save()
    _verified_email(user)
    Customer.objects.filter(user=user).exclude(pk=customer.pk).update(user=None)
    customer.user = user
    customer.save(update_fields=["user"])


def _verified_email(user) -> None:
    EmailAddress.objects.filter(user=user).exclude(email__iexact=user.email).delete()
    EmailAddress.objects.update_or_create(
        user=user, email=user.email, defaults={"verified": True, "primary": True}
    )
