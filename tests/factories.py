"""factory_boy factories for the domain. Defaults are valid rows; tests override what they test."""

from datetime import timedelta
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from accounts.identifiers import make_activation_code, make_iccid, make_msisdn
from accounts.models import Customer, Partner, SimLine
from payments.models import Payment, PaymentMethod
from plans.models import Plan, Price, Renewal


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    password = factory.django.Password("correct horse battery staple")


class PartnerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Partner

    name = factory.Sequence(lambda n: f"Travel Agency {n}")
    code = factory.Sequence(lambda n: f"agency-{n}")


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    full_name = factory.Sequence(lambda n: f"Customer {n}")
    email = factory.Sequence(lambda n: f"customer{n}@example.com")
    phone = factory.Sequence(lambda n: make_msisdn(50_000_000 + n))


class PlanFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Plan

    code = factory.Sequence(lambda n: f"plan-{n}")
    name_en = factory.Sequence(lambda n: f"Europe 30 days #{n}")
    name_fr = factory.Sequence(lambda n: f"Europe 30 jours n°{n}")
    name_zh_hans = factory.Sequence(lambda n: f"欧洲30天 {n}")
    validity_days = 30
    data_mb = 20_480
    voice_minutes = 100
    sms = 50
    coverage = factory.LazyFunction(lambda: ["FR", "ES", "IT", "DE"])


class PriceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Price

    plan = factory.SubFactory(PlanFactory)
    currency = "EUR"
    amount = Decimal("19.90")


class SimLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SimLine

    customer = factory.SubFactory(CustomerFactory)
    iccid = factory.Sequence(lambda n: make_iccid(1_000_000 + n))
    msisdn = factory.Sequence(lambda n: make_msisdn(n))
    kind = SimLine.Kind.PHYSICAL
    status = SimLine.Status.ACTIVE
    plan = factory.SubFactory(PlanFactory)
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=20))

    class Params:
        esim = factory.Trait(
            kind=SimLine.Kind.ESIM,
            activation_code=factory.Sequence(lambda n: make_activation_code(f"MATCH-{n:06d}")),
        )


class RenewalFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Renewal

    line = factory.SubFactory(SimLineFactory)
    plan = factory.SelfAttribute("line.plan")
    channel = Renewal.Channel.ADMIN
    status = Renewal.Status.ACTIVE
    price_amount = Decimal("19.90")
    currency = "EUR"
    data_mb = factory.SelfAttribute("plan.data_mb")
    voice_minutes = factory.SelfAttribute("plan.voice_minutes")
    sms = factory.SelfAttribute("plan.sms")
    validity_days = factory.SelfAttribute("plan.validity_days")
    idempotency_scope = "tests"
    idempotency_key = factory.Sequence(lambda n: f"renewal-{n}")
    paid_at = factory.LazyFunction(timezone.now)
    period_start = factory.LazyFunction(timezone.now)
    period_end = factory.LazyAttribute(lambda o: o.period_start + timedelta(days=o.validity_days))


class PaymentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Payment

    renewal = factory.SubFactory(RenewalFactory)
    customer = factory.SelfAttribute("renewal.line.customer")
    amount = factory.SelfAttribute("renewal.price_amount")
    currency = factory.SelfAttribute("renewal.currency")
    method = PaymentMethod.CARD
    status = Payment.Status.SUCCEEDED
    paid_at = factory.LazyFunction(timezone.now)
    receipt_number = factory.Sequence(lambda n: f"R2026-{n + 1:06d}")


class RefundFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "payments.Refund"

    payment = factory.SubFactory(PaymentFactory)
    amount = factory.SelfAttribute("payment.amount")
    currency = factory.SelfAttribute("payment.currency")
    reason = "customer_request"
    idempotency_key = factory.Sequence(lambda n: f"refund-{n}")


class FailedPaymentCaseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "payments.FailedPaymentCase"

    renewal = factory.SubFactory(
        RenewalFactory, status=Renewal.Status.FAILED, paid_at=None, period_start=None, period_end=None
    )
    payment = factory.SubFactory(
        PaymentFactory,
        renewal=factory.SelfAttribute("..renewal"),
        status=Payment.Status.FAILED,
        paid_at=None,
        receipt_number=None,
        decline_code="insufficient_funds",
    )
    last_decline_code = "insufficient_funds"


class ProviderEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "payments.ProviderEvent"

    event_id = factory.Sequence(lambda n: f"evt_test_{n:08d}")
    type = "payment_intent.succeeded"
    payload = factory.LazyAttribute(lambda o: {"id": o.event_id, "type": o.type})


class UsageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "plans.Usage"

    line = factory.SubFactory(SimLineFactory)
    recorded_at = factory.LazyFunction(timezone.now)
    data_bytes = 1_048_576
    source_record_id = factory.Sequence(lambda n: f"cdr-{n:08d}")


class CorrectionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "accounts.Correction"

    line = factory.SubFactory(SimLineFactory)
    customer = factory.SelfAttribute("line.customer")
    kind = "balance"
    data_mb_delta = 1024
    reason = "abnormal_deduction"
    channel = "admin"


# --- Payments in the states tests start from ---------------------------------------------------


def pending_stripe_payment(line, intent_id: str, **renewal_fields) -> Payment:
    """A renewal waiting for payment and its Stripe payment, opened but not paid."""
    renewal = RenewalFactory(
        line=line,
        status=Renewal.Status.PENDING_PAYMENT,
        paid_at=None,
        period_start=None,
        period_end=None,
        **renewal_fields,
    )
    return PaymentFactory(
        renewal=renewal,
        status=Payment.Status.PENDING,
        paid_at=None,
        receipt_number=None,
        stripe_payment_intent_id=intent_id,
    )


def cash_payment_mid_period(plan, *, days_used: int = 10, days_left: int = 20) -> Payment:
    """A cash payment for the current period of a line: ``days_used`` into it, ``days_left``
    to go, paid when the period started."""
    now = timezone.now()
    line = SimLineFactory(plan=plan, expires_at=now + timedelta(days=days_left))
    renewal = RenewalFactory(
        line=line,
        status=Renewal.Status.ACTIVE,
        period_start=now - timedelta(days=days_used),
        period_end=line.expires_at,
        paid_at=now - timedelta(days=days_used),
    )
    return PaymentFactory(
        renewal=renewal, method=PaymentMethod.CASH, manual_reference="till 2", paid_at=renewal.paid_at
    )
