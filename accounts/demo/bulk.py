"""Bulk lines for load tests and benchmarks (``seed_demo --lines N``): each with its own
customer, one active renewal and one succeeded payment, and their audit entries. On
PostgreSQL the rows go in through COPY, which keeps 100 000 lines well under half a minute."""

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import connection, models, reset_queries, transaction
from django.utils import timezone

from accounts.demo.blueprint import EN_FIRST, EN_LAST, FR_FIRST, FR_LAST, PLAN_SPECS
from accounts.demo.history import payment_recorded_entry, renewal_paid_entry
from accounts.demo.seed import demo_anchor, receipt_numbers_in_paid_order
from accounts.identifiers import DEMO_ICCID_PREFIX, make_activation_code, make_iccid, make_msisdn
from accounts.models import AuditEntry, Customer, Language, SimLine
from payments.models import Payment, PaymentMethod
from plans.models import Plan, Renewal

BULK_SCOPE = "demo-bulk"
# Below the demo lines' serials (9_000_000_000), far above the factories' (1_000_000 + n).
BULK_LINE_SERIAL_START = 8_000_000_000
# MSISDN serials for make_msisdn: bulk lines get +3375…/+3379….
BULK_MSISDN_START = 100_000_000
BULK_BATCH_SIZE = 5_000
BULK_PLAN_CODE = "eu-30d-20gb"

Kind = SimLine.Kind
LineStatus = SimLine.Status
Channel = Renewal.Channel
Method = PaymentMethod

BULK_FIRST_NAMES = FR_FIRST + EN_FIRST
BULK_LAST_NAMES = FR_LAST + EN_LAST
BULK_METHODS = (Method.CARD, Method.CARD, Method.APPLE_PAY, Method.ALIPAY, Method.WECHAT_PAY)
BULK_LANGUAGES = (Language.FRENCH, Language.ENGLISH, Language.CHINESE)
_ICCID_SERIAL = slice(len(DEMO_ICCID_PREFIX), -1)  # the serial inside an ICCID made by make_iccid


def bulk_iccid(index: int) -> str:
    return make_iccid(BULK_LINE_SERIAL_START + index)


def seed_bulk_lines(
    count: int,
    *,
    batch_size: int = BULK_BATCH_SIZE,
    anchor: datetime | None = None,
    on_batch: Callable[[int, int], None] | None = None,
) -> int:
    """Make sure bulk lines 0..count-1 exist, each with its own customer, one active renewal
    and one succeeded payment; return how many were created. One transaction per batch, so
    memory stays flat and an interrupted run resumes where it stopped."""
    anchor = anchor or demo_anchor()
    plan = Plan.objects.get(code=BULK_PLAN_CODE)
    created = 0
    for start in range(0, count, batch_size):
        stop = min(start + batch_size, count)
        created += _seed_bulk_batch(range(start, stop), plan, anchor)
        reset_queries()  # DEBUG keeps every query's SQL; these are megabytes each
        if on_batch:
            on_batch(stop, created)
    if created and connection.vendor == "postgresql":
        # Fresh statistics: until autovacuum gets round to these tables, the planner believes
        # the bulk rows are not there and picks nested loops over them (the consistency check's
        # audit anti-joins ran for minutes on 100 000 lines right after a seed).
        _analyze(Customer, SimLine, Renewal, Payment, AuditEntry)
    return created


def _analyze(*models_) -> None:
    tables = ", ".join(connection.ops.quote_name(model._meta.db_table) for model in models_)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {tables}")


def count_bulk_lines(count: int) -> int:
    """How many of bulk lines 0..count-1 exist."""
    if count <= 0:
        return 0
    return SimLine.objects.filter(iccid__range=(bulk_iccid(0), bulk_iccid(count - 1))).count()


def _missing_bulk_indexes(indexes: range) -> list[int]:
    # Same prefix and length: string order is serial order, so one range query finds them,
    # and only two check digits are computed for lines that already exist.
    existing = SimLine.objects.filter(
        iccid__range=(bulk_iccid(indexes[0]), bulk_iccid(indexes[-1]))
    ).values_list("iccid", flat=True)
    present = {int(iccid[_ICCID_SERIAL]) - BULK_LINE_SERIAL_START for iccid in existing}
    return [index for index in indexes if index not in present]


@transaction.atomic
def _seed_bulk_batch(indexes: range, plan: Plan, anchor: datetime) -> int:
    missing = _missing_bulk_indexes(indexes)
    if not missing:
        return 0
    price = PLAN_SPECS[plan.code].retail["EUR"]
    customer_ids = _insert_rows(Customer, [_bulk_customer(index) for index in missing])
    lines = [
        _bulk_line(index, customer_id, plan, anchor)
        for index, customer_id in zip(missing, customer_ids, strict=True)
    ]
    line_ids = _insert_rows(SimLine, lines)
    renewals = [
        _bulk_renewal(line_id, line, plan, price) for line_id, line in zip(line_ids, lines, strict=True)
    ]
    renewal_ids = _insert_rows(Renewal, renewals)
    receipts = receipt_numbers_in_paid_order([renewal["paid_at"] for renewal in renewals])
    payments = [
        {
            "renewal_id": renewal_id,
            "customer_id": line["customer_id"],
            "amount": price,
            "currency": "EUR",
            "method": BULK_METHODS[index % len(BULK_METHODS)],
            "status": Payment.Status.SUCCEEDED,
            "paid_at": renewal["paid_at"],
            "receipt_number": receipt,
        }
        for index, line, renewal_id, renewal, receipt in zip(
            missing, lines, renewal_ids, renewals, receipts, strict=True
        )
    ]
    payment_ids = _insert_rows(Payment, payments)
    # Their audit entries, in the same transaction (a resumed run never finds a line without).
    _insert_rows(
        AuditEntry,
        [
            renewal_paid_entry(
                renewal_id,
                plan_code=plan.code,
                iccid=line["iccid"],
                paid_at=renewal["paid_at"],
                start=renewal["period_start"],
                end=renewal["period_end"],
            )
            for renewal_id, renewal, line in zip(renewal_ids, renewals, lines, strict=True)
        ]
        + [
            payment_recorded_entry(
                payment_id,
                amount=payment["amount"],
                currency=payment["currency"],
                method=payment["method"],
                paid_at=payment["paid_at"],
                receipt_number=payment["receipt_number"],
            )
            for payment_id, payment in zip(payment_ids, payments, strict=True)
        ],
    )
    return len(missing)


def _bulk_customer(index: int) -> dict:
    first = BULK_FIRST_NAMES[index % len(BULK_FIRST_NAMES)]
    last = BULK_LAST_NAMES[(index // len(BULK_FIRST_NAMES)) % len(BULK_LAST_NAMES)]
    return {
        "full_name": f"{first} {last}",
        "email": f"bulk{index:07d}@example.org",
        "phone": make_msisdn(BULK_MSISDN_START + index),
        "language": BULK_LANGUAGES[index % len(BULK_LANGUAGES)],
        "country": "FR",
        "city": "Paris",
    }


def _bulk_line(index: int, customer_id: int, plan: Plan, anchor: datetime) -> dict:
    esim = index % 2 == 0
    # Expiries spread over the plan's 30 days, so reminder and renewal jobs see a steady load.
    expires_at = anchor + timedelta(hours=1 + (index * 7_919) % (plan.validity_days * 24 - 1))
    return {
        "customer_id": customer_id,
        "iccid": bulk_iccid(index),
        "msisdn": make_msisdn(BULK_MSISDN_START + index),
        "kind": Kind.ESIM if esim else Kind.PHYSICAL,
        "activation_code": make_activation_code(f"BULK-{index:08d}") if esim else "",
        "status": LineStatus.ACTIVE,
        "plan_id": plan.pk,
        "expires_at": expires_at,
        "activated_at": expires_at - timedelta(days=plan.validity_days),
    }


def _bulk_renewal(line_id: int, line: dict, plan: Plan, price: Decimal) -> dict:
    start = line["activated_at"]
    return {
        "line_id": line_id,
        "plan_id": plan.pk,
        "data_mb": plan.data_mb,
        "voice_minutes": plan.voice_minutes,
        "sms": plan.sms,
        "validity_days": plan.validity_days,
        "channel": Channel.SELF_SERVICE,
        "status": Renewal.Status.ACTIVE,
        "price_amount": price,
        "currency": "EUR",
        "idempotency_scope": BULK_SCOPE,
        "idempotency_key": line["iccid"],
        "period_start": start,
        "period_end": line["expires_at"],
        "paid_at": start,
        "activated_at": start + timedelta(minutes=2),
        "activation_attempts": 1,
    }


def _insert_rows(model, rows: list[dict[str, Any]]) -> list[int]:
    """Insert rows given as {attname: value} and return their ids, in order. PostgreSQL gets
    them through COPY: Django's bulk_create spends ~0.2 ms of Python per row on these wide
    models, which is most of a minute for 100 000 lines."""
    if connection.vendor == "postgresql":
        return _copy_rows(model, rows)
    objects = model.objects.bulk_create([model(**row) for row in rows], batch_size=BULK_BATCH_SIZE)
    return [obj.pk for obj in objects]


def _copy_rows(model, rows: list[dict[str, Any]]) -> list[int]:
    meta = model._meta
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    now = timezone.now()
    per_row = [f for f in fields if f.has_default() and callable(f.default)]  # e.g. uuid4
    # What the model would fill in for a field a row leaves out (save() is bypassed here).
    fixed = {
        f.attname: now
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
        else f.get_default()
        for f in fields
        if f not in per_row
    }
    json_fields = [f.attname for f in fields if isinstance(f, models.JSONField)]  # COPY takes JSON text
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in [meta.pk, *fields])
    with connection.cursor() as cursor:
        # Draw the ids first so child rows can point at them without reading anything back.
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [meta.db_table, meta.pk.column, len(rows)],
        )
        ids = [row[0] for row in cursor.fetchall()]
        with cursor.copy(f"COPY {quote(meta.db_table)} ({columns}) FROM STDIN") as copy:
            for pk, row in zip(ids, rows, strict=True):
                values = {
                    **fixed,
                    **{f.attname: f.get_default() for f in per_row if f.attname not in row},
                    **row,
                }
                for name in json_fields:
                    values[name] = json.dumps(values[name])
                copy.write_row([pk, *(values[f.attname] for f in fields)])
    return ids
