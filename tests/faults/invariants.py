"""DESIGN.md §3 as one assertion, for the fault-injection suite to make after every fault and
its recovery: exactly one charge and one period per payment, nothing lost.

``ledger_problems()`` reads our database; with a Stripe peer it also compares our payments
and refunds with the charges and refunds the peer holds for our customers (each test's
customers are its own at the peer, so earlier tests' charges do not count). Each problem is
a sentence naming the rows, so a failure says what broke.

The checks production runs too (``manage.py consistency_check``: one succeeded payment per
granted period, refunds within their payment, receipts, audit entries, wallets) come from
``reseller.consistency``; this module adds what only a test can know: no period granted
twice, periods of a line that never overlap, nothing still in flight once recovery ran, and
the comparison with what the Stripe peer charged and refunded."""

from collections import Counter, defaultdict
from decimal import Decimal
from itertools import pairwise

from accounts.models import AuditEntry, Customer, SimLine
from payments.models import Payment, ProviderEvent, Refund
from plans.models import Renewal
from reseller.consistency import consistency_check
from reseller.money import from_stripe_minor_units


def assert_ledger_consistent(*, stripe_peer=None, settled: bool = True) -> None:
    """``settled``: the faults are over and recovery has run, so nothing may still be on its
    way (a paid renewal not active, a payment waiting, a webhook not processed)."""
    problems = ledger_problems(stripe_peer=stripe_peer, settled=settled)
    assert not problems, "DESIGN.md §3 broken:\n- " + "\n- ".join(problems)


def ledger_problems(*, stripe_peer=None, settled: bool = True) -> list[str]:
    report = consistency_check()
    problems = [f"{result.name}: {message}" for result in report.results for message in result.violations]
    problems += _periods_granted_once() + _periods_do_not_overlap()
    if settled:
        problems += _nothing_in_flight()
    if stripe_peer is not None:
        problems += _stripe_matches(stripe_peer)
    return problems


def _periods_granted_once() -> list[str]:
    granted = Counter(
        AuditEntry.objects.filter(action="renewal.paid", content_type__model="renewal").values_list(
            "object_id", flat=True
        )
    )
    return [f"renewal {pk} was granted {count} periods" for pk, count in granted.items() if count > 1]


def _periods_do_not_overlap() -> list[str]:
    problems = []
    periods = defaultdict(list)
    for renewal in Renewal.objects.filter(status__in=Renewal.GRANTED_STATUSES, period_start__isnull=False):
        periods[renewal.line_id].append(renewal)
    for line_id, renewals in periods.items():
        renewals.sort(key=lambda r: r.period_start)
        for before, after in pairwise(renewals):
            if after.period_start < before.period_end:
                problems.append(f"line {line_id}: renewals {before.pk} and {after.pk} overlap")
        expiry = SimLine.objects.values_list("expires_at", flat=True).get(pk=line_id)
        if expiry != renewals[-1].period_end:
            problems.append(
                f"line {line_id} expires at {expiry}, its last period ends at {renewals[-1].period_end}"
            )
    return problems


def _nothing_in_flight() -> list[str]:
    problems = []
    for renewal in Renewal.objects.filter(status__in=(Renewal.Status.PAID, Renewal.Status.ACTIVATING)):
        problems.append(f"renewal {renewal.pk} is paid but still {renewal.status}")
    for payment in Payment.objects.filter(status__in=(Payment.Status.PENDING, Payment.Status.PROCESSING)):
        problems.append(f"payment {payment.pk} is still {payment.status}")
    for event in ProviderEvent.objects.filter(processed_at__isnull=True):
        problems.append(f"Stripe event {event.event_id} ({event.type}) is not processed")
    return problems


def _stripe_matches(stripe_peer) -> list[str]:
    """Every charge the peer made for our customers is one succeeded payment of ours, and the
    other way round; every refund the peer made is one of ours, within what was charged."""
    problems = []
    client = stripe_peer.client()
    customers = Customer.objects.exclude(stripe_customer_id="").values_list("stripe_customer_id", flat=True)
    charged = Counter()
    for customer in customers:
        for intent in client.v1.payment_intents.list({"customer": customer, "limit": 100}).auto_paging_iter():
            if intent.status != "succeeded":
                continue
            metadata = intent.metadata.to_dict() if intent.metadata else {}
            payment_id, renewal_id = metadata.get("payment_id"), metadata.get("renewal_id")
            charged[("renewal", renewal_id)] += 1
            ours = Payment.objects.filter(stripe_payment_intent_id=intent.id).first()
            if ours is None or str(ours.pk) != payment_id:
                problems.append(
                    f"Stripe charged {intent.id} (payment {payment_id}) and we have no record of it"
                )
                continue
            if ours.status != Payment.Status.SUCCEEDED:
                problems.append(f"Stripe charged {intent.id} but payment {ours.pk} is {ours.status}")
            amount = from_stripe_minor_units(intent.amount, intent.currency.upper())
            if (amount, intent.currency.upper()) != (ours.amount, ours.currency):
                problems.append(f"Stripe charged {amount} {intent.currency} for payment {ours.pk}")
            problems += _stripe_refunds(client, intent, ours)
    for (_kind, renewal_id), count in charged.items():
        if count > 1:
            problems.append(f"Stripe charged renewal {renewal_id} {count} times")
    for payment in Payment.objects.filter(status=Payment.Status.SUCCEEDED).exclude(
        stripe_payment_intent_id=""
    ):
        intent = client.v1.payment_intents.retrieve(payment.stripe_payment_intent_id)
        if intent.status != "succeeded":
            problems.append(f"payment {payment.pk} succeeded but Stripe says {intent.status}")
    return problems


def _stripe_refunds(client, intent, payment: Payment) -> list[str]:
    problems = []
    refunded = Decimal(0)
    for refund in client.v1.refunds.list({"payment_intent": intent.id, "limit": 100}).auto_paging_iter():
        if refund.status in ("failed", "canceled"):
            continue
        refunded += from_stripe_minor_units(refund.amount, refund.currency.upper())
        if not Refund.objects.filter(stripe_refund_id=refund.id, payment=payment).exists():
            problems.append(
                f"Stripe refunded {refund.id} on payment {payment.pk} and we have no record of it"
            )
    if refunded > payment.amount:
        problems.append(f"Stripe refunded {refunded} of payment {payment.pk}'s {payment.amount}")
    return problems
