"""A consistency check over the whole database: the invariants of DESIGN.md §3 that can be
read back from the rows, checked after the fact.

It reads only (no row is changed, no lock taken), so it is safe on a live production
database: ``manage.py consistency_check`` prints what it found and exits non-zero on any
violation. Each check is one query (or one per wallet and receipt year), not a loop over rows.

What it checks, and why:

- ``wallet_ledger``: a partner wallet's balance is the sum of its entries, and its latest
  entry's ``balance_after`` is that balance (invariant 4: balances are sums of ledger rows).
- ``wallet_entry_subject``: a renewal debit takes exactly its payment's amount from a wallet
  payment; a refund credit gives back exactly its refund's amount.
- ``payment_period``: a succeeded payment that names a renewal has granted its period (the
  renewal is paid, activating, active or refunded), unless it is parked for Billing's review
  (money taken for a cancelled renewal); and every renewal whose period was granted was paid by
  exactly one succeeded payment (invariant 1: one payment, one period).
- ``refund_total``: pending and succeeded refunds of a payment never exceed it, are in its
  currency and are only of succeeded payments (invariant 3).
- ``orphan_payment``: every payment is for something: a renewal, or it is parked for review
  (a duplicate charge left its renewal so Billing refunds it).
- ``receipt_number``: every succeeded payment has a receipt number.
- ``receipt_gaps``: each year's receipt numbers run 1…N with no gap, N being the year's
  sequence (French bookkeeping; see payments.receipts).
- ``audit``: every payment, refund, wallet entry, granted renewal and applied adjustment has
  its audit entry (invariant 5).
"""

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib.contenttypes.models import ContentType
from django.db.models import (
    CharField,
    Count,
    DecimalField,
    Exists,
    F,
    IntegerField,
    Max,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Cast, Coalesce, Substr

from accounts.models import AuditEntry, Correction
from payments.models import PartnerWallet, Payment, PaymentMethod, ReceiptSequence, Refund, WalletEntry
from payments.receipts import format_receipt_number
from plans.models import Renewal
from reseller.money import quantize

#: Violations listed per check; beyond, they are counted only (a broken table would drown the report).
MAX_LISTED = 20

#: Each check's name and what it verifies, in report order.
CHECKS = {
    "wallet_ledger": "wallet balances equal the sum of their ledger entries",
    "wallet_entry_subject": "wallet debits and credits match their payment or refund",
    "payment_period": "one granted period per succeeded payment, one payment per granted period",
    "refund_total": "refunds never exceed their payment",
    "orphan_payment": "every payment is for a renewal or parked for review",
    "receipt_number": "every succeeded payment has a receipt number",
    "receipt_gaps": "receipt numbers are gapless per year",
    "audit": "every money and entitlement change has its audit entry",
}

_GRANTED_OR_REFUNDED = (*Renewal.GRANTED_STATUSES, Renewal.Status.REFUNDED)
_MONEY = DecimalField(max_digits=20, decimal_places=3)


@dataclass
class CheckResult:
    name: str
    description: str
    checked: int = 0
    violations: list[str] = field(default_factory=list)
    violation_count: int = 0

    @property
    def ok(self) -> bool:
        return self.violation_count == 0

    def add(self, message: str) -> None:
        self.violation_count += 1
        if len(self.violations) < MAX_LISTED:
            self.violations.append(message)


@dataclass
class ConsistencyReport:
    results: list[CheckResult]

    @property
    def ok(self) -> bool:
        return all(result.ok for result in self.results)

    @property
    def violation_count(self) -> int:
        return sum(result.violation_count for result in self.results)

    def result(self, name: str) -> CheckResult:
        return next(result for result in self.results if result.name == name)

    def as_text(self) -> str:
        lines = []
        for result in self.results:
            status = "ok" if result.ok else f"{result.violation_count} VIOLATION(S)"
            lines.append(f"[{status}] {result.name}: {result.description} ({result.checked} checked)")
            lines.extend(f"    - {message}" for message in result.violations)
            if result.violation_count > len(result.violations):
                lines.append(f"    … and {result.violation_count - len(result.violations)} more")
        verdict = "PASS" if self.ok else f"FAIL: {self.violation_count} violation(s)"
        lines.append(f"consistency check: {verdict}")
        return "\n".join(lines)


def consistency_check() -> ConsistencyReport:
    """Run every check and return the report (nothing is written)."""
    results = []
    for name, description in CHECKS.items():
        result = CheckResult(name=name, description=description)
        _CHECKERS[name](result)
        results.append(result)
    return ConsistencyReport(results=results)


def _wallet_ledger(result: CheckResult) -> None:
    latest = WalletEntry.objects.filter(wallet=OuterRef("pk")).order_by("-id").values("balance_after")[:1]
    wallets = PartnerWallet.objects.annotate(
        ledger=Coalesce(Sum("entries__amount"), Value(0), output_field=_MONEY),
        last_after=Subquery(latest, output_field=_MONEY),
    ).values_list("pk", "partner__code", "currency", "balance", "ledger", "last_after")
    for pk, code, currency, balance, ledger, last_after in wallets:
        result.checked += 1
        balance, ledger = quantize(balance, currency), quantize(Decimal(ledger), currency)
        if balance != ledger:
            result.add(
                f"wallet #{pk} ({code}): balance {balance} {currency} but its entries add up to {ledger}"
            )
        elif last_after is not None and last_after != balance:
            result.add(
                f"wallet #{pk} ({code}): balance {balance} {currency} but the last entry left {last_after}"
            )


def _wallet_entry_subject(result: CheckResult) -> None:
    entries = WalletEntry.objects.filter(
        kind__in=[WalletEntry.Kind.RENEWAL_DEBIT, WalletEntry.Kind.REFUND_CREDIT]
    )
    result.checked = entries.count()
    bad_debits = entries.filter(kind=WalletEntry.Kind.RENEWAL_DEBIT).filter(
        ~Q(amount=-F("payment__amount"))
        | ~Q(payment__method=PaymentMethod.PARTNER_WALLET)
        | ~Q(payment__renewal_id=F("renewal_id"))
    )
    for pk, amount, payment_id in bad_debits.values_list("pk", "amount", "payment_id"):
        result.add(f"wallet entry #{pk}: debit {amount} does not match wallet payment #{payment_id}")
    bad_credits = entries.filter(kind=WalletEntry.Kind.REFUND_CREDIT).filter(
        ~Q(amount=F("refund__amount")) | ~Q(refund__status=Refund.Status.SUCCEEDED)
    )
    for pk, amount, refund_id in bad_credits.values_list("pk", "amount", "refund_id"):
        result.add(f"wallet entry #{pk}: credit {amount} does not match succeeded refund #{refund_id}")


def _payment_period(result: CheckResult) -> None:
    succeeded = Payment.objects.filter(status=Payment.Status.SUCCEEDED, renewal__isnull=False)
    result.checked = succeeded.count()
    not_granted = succeeded.exclude(renewal__status__in=_GRANTED_OR_REFUNDED).filter(review_reason="")
    for pk, renewal_id, status in not_granted.values_list("pk", "renewal_id", "renewal__status"):
        result.add(f"payment #{pk} succeeded but renewal #{renewal_id} is {status}: no period granted")
    paid_renewals = Renewal.objects.filter(status__in=_GRANTED_OR_REFUNDED).annotate(
        paid_by=Count("payments", filter=Q(payments__status=Payment.Status.SUCCEEDED))
    )
    for pk, paid_by in paid_renewals.exclude(paid_by=1).values_list("pk", "paid_by"):
        result.add(f"renewal #{pk} has a granted period but {paid_by} succeeded payments")


def _refund_total(result: CheckResult) -> None:
    refunded = Payment.objects.filter(refunds__isnull=False).distinct()
    result.checked = refunded.count()
    totals = Payment.objects.annotate(
        refunded=Sum(
            "refunds__amount",
            filter=Q(refunds__status__in=[Refund.Status.PENDING, Refund.Status.SUCCEEDED]),
            output_field=_MONEY,
        )
    ).filter(refunded__gt=F("amount"))
    for pk, amount, total, currency in totals.values_list("pk", "amount", "refunded", "currency"):
        amount, total = quantize(amount, currency), quantize(Decimal(total), currency)
        result.add(f"payment #{pk}: {total} {currency} refunded of {amount} {currency} paid")
    wrong = Refund.objects.filter(
        ~Q(currency=F("payment__currency")) | ~Q(payment__status=Payment.Status.SUCCEEDED)
    )
    for pk, payment_id, status in wrong.values_list("pk", "payment_id", "payment__status"):
        result.add(f"refund #{pk}: of payment #{payment_id} ({status}) in another currency or not succeeded")


def _orphan_payment(result: CheckResult) -> None:
    result.checked = Payment.objects.count()
    orphans = Payment.objects.filter(renewal__isnull=True, review_reason="")
    for pk, status, amount, currency in orphans.values_list("pk", "status", "amount", "currency"):
        result.add(
            f"payment #{pk} ({status}, {amount} {currency}) is for no renewal and not parked for review"
        )


def _receipt_number(result: CheckResult) -> None:
    succeeded = Payment.objects.filter(status=Payment.Status.SUCCEEDED)
    result.checked = succeeded.count()
    for pk in succeeded.filter(Q(receipt_number__isnull=True) | Q(receipt_number="")).values_list(
        "pk", flat=True
    ):
        result.add(f"payment #{pk} succeeded without a receipt number")


_RECEIPT_FORM = r"^R[0-9]{4}-[0-9]+$"


def _receipt_gaps(result: CheckResult) -> None:
    """Numbers are unique (a database constraint), so a year is gapless when it holds exactly
    as many numbers as its sequence issued, the highest being the sequence's last: counted in
    the database, and the year's numbers read only when it is not."""
    numbered = Payment.objects.filter(receipt_number__isnull=False).exclude(receipt_number="")
    for number in numbered.exclude(receipt_number__regex=_RECEIPT_FORM).values_list(
        "receipt_number", flat=True
    ):
        result.add(f"receipt number {number} is not of the form R<year>-<number>")
    well_formed = numbered.filter(receipt_number__regex=_RECEIPT_FORM).annotate(
        year=Cast(Substr("receipt_number", 2, 4), IntegerField()),
        serial=Cast(Substr("receipt_number", 7), IntegerField()),
    )
    issued = {
        year: (count, highest)
        for year, count, highest in well_formed.values("year")
        .annotate(count=Count("pk"), highest=Max("serial"))
        .values_list("year", "count", "highest")
    }
    sequences = dict(ReceiptSequence.objects.values_list("year", "last_number"))
    for year in sorted(set(issued) | set(sequences)):
        (count, highest), last = issued.get(year, (0, 0)), sequences.get(year, 0)
        result.checked += count
        if count == last and highest == last:
            continue
        numbers = set(well_formed.filter(year=year).values_list("serial", flat=True))
        missing = sorted(set(range(1, last + 1)) - numbers)
        beyond = sorted(number for number in numbers if number > last)
        if missing:
            shown = ", ".join(format_receipt_number(year, n) for n in missing[:5])
            result.add(
                f"{year}: {len(missing)} receipt number(s) issued by the sequence but on no payment: {shown}"
            )
        if beyond:
            shown = ", ".join(format_receipt_number(year, n) for n in beyond[:5])
            result.add(f"{year}: receipt number(s) beyond the sequence's last ({last}): {shown}")


def _audited(model, actions: list[str]) -> Exists:
    return Exists(
        AuditEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(model),
            object_id=Cast(OuterRef("pk"), CharField()),
            action__in=actions,
        )
    )


def _audit(result: CheckResult) -> None:
    subjects = [
        # (what, queryset, the audit actions any one of which records it)
        ("payment", Payment.objects.all(), Payment, ["payment.started", "payment.recorded"]),
        (
            "succeeded payment",
            Payment.objects.filter(status=Payment.Status.SUCCEEDED),
            Payment,
            ["payment.succeeded", "payment.recorded"],
        ),
        ("refund", Refund.objects.all(), Refund, ["refund.requested", "refund.recorded_from_provider"]),
        (
            "granted renewal",
            Renewal.objects.filter(status__in=_GRANTED_OR_REFUNDED),
            Renewal,
            ["renewal.paid"],
        ),
        (
            "applied adjustment",
            Correction.objects.filter(
                status=Correction.Status.APPLIED, kind__in=[Correction.Kind.BALANCE, Correction.Kind.EXPIRY]
            ),
            Correction,
            [
                "correction.applied",
                f"correction.{Correction.Kind.BALANCE}",
                f"correction.{Correction.Kind.EXPIRY}",
            ],
        ),
    ]
    for what, queryset, model, actions in subjects:
        result.checked += queryset.count()
        for pk in queryset.filter(~_audited(model, actions)).values_list("pk", flat=True):
            result.add(f"{what} #{pk} has no audit entry ({' or '.join(actions)})")
    # Wallet entries are audited on their wallet (top-ups, credits) or their payment (debits):
    # as many entries of each kind as audit entries of the matching action.
    wallet_type = ContentType.objects.get_for_model(PartnerWallet)
    for kind, action in (
        (WalletEntry.Kind.TOP_UP, "wallet.topped_up"),
        (WalletEntry.Kind.REFUND_CREDIT, "wallet.credited"),
    ):
        entries = dict(
            WalletEntry.objects.filter(kind=kind)
            .values("wallet_id")
            .annotate(n=Count("pk"))
            .values_list("wallet_id", "n")
        )
        audited = defaultdict(int)
        for object_id, n in (
            AuditEntry.objects.filter(content_type=wallet_type, action=action)
            .values("object_id")
            .annotate(n=Count("pk"))
            .values_list("object_id", "n")
        ):
            audited[int(object_id)] = n
        for wallet_id, n in entries.items():
            result.checked += n
            if audited[wallet_id] < n:
                result.add(
                    f"wallet #{wallet_id}: {n} {kind} entries but {audited[wallet_id]} {action} audit entries"
                )
    debits = WalletEntry.objects.filter(kind=WalletEntry.Kind.RENEWAL_DEBIT)
    result.checked += debits.count()
    missing = debits.filter(
        ~Exists(
            AuditEntry.objects.filter(
                content_type=ContentType.objects.get_for_model(Payment),
                object_id=Cast(OuterRef("payment_id"), CharField()),
                action="payment.recorded",
            )
        )
    )
    for pk, payment_id in missing.values_list("pk", "payment_id"):
        result.add(f"wallet entry #{pk}: its payment #{payment_id} has no payment.recorded audit entry")


_CHECKERS = {
    "wallet_ledger": _wallet_ledger,
    "wallet_entry_subject": _wallet_entry_subject,
    "payment_period": _payment_period,
    "refund_total": _refund_total,
    "orphan_payment": _orphan_payment,
    "receipt_number": _receipt_number,
    "receipt_gaps": _receipt_gaps,
    "audit": _audit,
}
