from decimal import Decimal

import pytest
from django.contrib.contenttypes.models import ContentType

from accounts.audit import audit_record
from accounts.models import Correction
from notifications.models import NotificationLog
from payments.models import (
    Dispute,
    FailedPaymentCase,
    Payment,
    ProviderEvent,
    ReconciliationRun,
    Refund,
    SavedPaymentMethod,
)
from payments.wallet import wallet_top_up
from plans.models import Usage, UsageImport
from reseller.actors import Actor
from tests.factories import PartnerFactory, PaymentFactory, PriceFactory, RenewalFactory, SimLineFactory


def make_rows(n: int, partner=None):
    """n lines, each with a customer, a renewal, a payment, a refund, usage, a correction, an
    audit entry, a provider event and (every other one) a failed-payment case."""
    for i in range(n):
        line = SimLineFactory(customer__partner=partner) if i % 2 else SimLineFactory(esim=True)
        renewal = RenewalFactory(line=line)
        payment = PaymentFactory(renewal=renewal)
        Refund.objects.create(
            payment=payment,
            amount=Decimal("1.00"),
            currency=payment.currency,
            reason=Refund.Reason.GOODWILL,
            idempotency_key=f"refund-{payment.pk}",
            requested_by=None,
        )
        Usage.objects.create(
            line=line, recorded_at=renewal.period_start, data_bytes=10_000, source_record_id=f"u-{line.pk}"
        )
        Correction.objects.create(
            customer=line.customer,
            line=line,
            kind=Correction.Kind.BALANCE,
            data_mb_delta=100,
            reason=Correction.Reason.GOODWILL,
            channel="admin",
        )
        audit_record(
            actor=Actor.system("tests"), action="line.created", obj=line, reason="recorded by a test"
        )
        NotificationLog.objects.create(
            customer=line.customer,
            line=line,
            renewal=renewal,
            kind="renewal_active",
            channel="email",
            dedupe_key=f"renewal_active:renewal={renewal.pk}:email",
            language="en",
            recipient=line.customer.email,
            body="Your SIM line is renewed.",
        )
        UsageImport.objects.create(
            filename=f"usage-{line.pk}.csv", sha256="0" * 64, channel="system", rows_total=1, rows_applied=1
        )
        ProviderEvent.objects.create(event_id=f"evt_{line.pk}", type="payment_intent.succeeded", payload={})
        Dispute.objects.create(
            payment=payment,
            stripe_dispute_id=f"dp_{payment.pk}",
            amount=payment.amount,
            currency=payment.currency,
            status="needs_response",
            opened_at=renewal.period_start,
            evidence_due_by=renewal.period_end,
        )
        SavedPaymentMethod.objects.create(
            customer=line.customer, stripe_payment_method_id=f"pm_{line.pk}", brand="visa", last4="4242"
        )
        ReconciliationRun.objects.create(
            started_at=renewal.period_start, since=renewal.period_start, differences=[{"kind": "payment"}]
        )
        if i % 2 == 0:
            failed_renewal = RenewalFactory(
                line=line, status="failed", paid_at=None, period_start=None, period_end=None
            )
            failed = Payment.objects.create(
                renewal=failed_renewal,
                customer=line.customer,
                amount=Decimal("19.90"),
                currency="EUR",
                method="card",
                status="failed",
                decline_code="insufficient_funds",
            )
            FailedPaymentCase.objects.create(renewal=failed_renewal, payment=failed)
    PriceFactory(plan=line.plan)


@pytest.fixture
def rows(db):
    partner = PartnerFactory()
    make_rows(3, partner=partner)
    wallet_top_up(
        partner=partner, amount=Decimal("100.00"), currency="EUR", actor=Actor.system("tests"), reason="test"
    )
    ContentType.objects.clear_cache()
