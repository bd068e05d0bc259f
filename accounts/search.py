"""Staff search: one box that understands what was typed. An ICCID, a phone number, a receipt
number or an e-mail is looked up exactly on its index; anything else searches names. Exact
lookups stay fast at millions of rows, where a blanket icontains over every column would not."""

import re
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db.models import Q

from payments.receipts import format_receipt_number
from reseller.validators import normalize_msisdn

_RECEIPT = re.compile(r"^R\d{4}-\d{1,10}$", re.IGNORECASE)


@dataclass(frozen=True)
class SearchTerm:
    kind: str  # "iccid" | "phone" | "receipt" | "email" | "name"
    value: str


def classify(raw: str) -> SearchTerm:
    term = raw.strip()
    compact = re.sub(r"[\s.\-()]", "", term)
    if _RECEIPT.match(term):
        year, number = term.upper().lstrip("R").split("-")
        return SearchTerm("receipt", format_receipt_number(int(year), int(number)))
    if "@" in term:
        return SearchTerm("email", term)
    if compact.isdigit() and len(compact) in (19, 20) and compact.startswith("89"):
        return SearchTerm("iccid", compact)
    if re.fullmatch(r"\+?\d{6,15}", compact):
        try:
            return SearchTerm("phone", normalize_msisdn(compact))
        except ValidationError:
            pass
    return SearchTerm("name", term)


# Each look-up below is answered by one index; where a term can match in two places (a phone
# number is a customer's or a line's), the matching ids are fetched separately and combined,
# because an OR across a join or an EXISTS makes PostgreSQL scan the whole table.


def _customers_by_phone(number: str) -> list[int]:
    from accounts.models import Customer, SimLine

    return list(Customer.objects.filter(phone=number).values_list("pk", flat=True)) + list(
        SimLine.objects.filter(msisdn=number).values_list("customer_id", flat=True)
    )


def _customers_named(term: SearchTerm):
    from accounts.models import Customer

    if term.kind == "email":
        return Customer.objects.filter(email__iexact=term.value).values("pk")
    return Customer.objects.filter(full_name__icontains=term.value).values("pk")


def customer_filter(raw: str) -> Q:
    """Customers matching a staff search term (by their own fields, lines or receipts)."""
    from accounts.models import SimLine
    from payments.models import Payment

    term = classify(raw)
    if term.kind == "iccid":
        return Q(pk__in=SimLine.objects.filter(iccid=term.value).values("customer_id"))
    if term.kind == "phone":
        return Q(pk__in=_customers_by_phone(term.value))
    if term.kind == "receipt":
        return Q(pk__in=Payment.objects.filter(receipt_number=term.value).values("customer_id"))
    if term.kind == "email":
        return Q(email__iexact=term.value)
    return Q(full_name__icontains=term.value)


def line_filter(raw: str) -> Q:
    """Lines matching a staff search term."""
    from accounts.models import Customer
    from plans.models import Renewal

    term = classify(raw)
    if term.kind == "iccid":
        return Q(iccid=term.value)
    if term.kind == "phone":
        owners = list(Customer.objects.filter(phone=term.value).values_list("pk", flat=True))
        return Q(msisdn=term.value) | Q(customer_id__in=owners)  # two indexes, one table
    if term.kind == "receipt":
        return Q(pk__in=Renewal.objects.filter(payments__receipt_number=term.value).values("line_id"))
    return Q(customer_id__in=_customers_named(term))


def payment_filter(raw: str) -> Q:
    from plans.models import Renewal

    term = classify(raw)
    if term.kind == "receipt":
        return Q(receipt_number=term.value)
    if term.kind == "iccid":
        return Q(renewal_id__in=Renewal.objects.filter(line__iccid=term.value).values("pk"))
    if term.kind == "phone":
        return Q(customer_id__in=_customers_by_phone(term.value))
    if term.kind == "email":
        return Q(customer_id__in=_customers_named(term))
    raw = raw.strip()
    if raw.startswith("pi_"):
        return Q(stripe_payment_intent_id=raw)
    if raw.startswith(("ch_", "py_")):
        return Q(stripe_charge_id=raw)
    if raw.startswith("re_"):
        from payments.models import Refund

        return Q(pk__in=Refund.objects.filter(stripe_refund_id=raw).values("payment_id"))
    # A bank transfer reference or a cash receipt number, else a customer's name (each indexed).
    return Q(manual_reference=raw) | Q(customer_id__in=_customers_named(term))
