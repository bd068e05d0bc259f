"""manage.py seed_demo: a valid, repeatable demo set, gapless receipts, working staff logins
and bulk lines for benchmarks."""

import re
from collections import defaultdict
from datetime import timedelta
from decimal import Decimal
from io import StringIO
from itertools import pairwise

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from accounts import demo
from accounts.models import AuditEntry, Correction, Customer, Partner, SimLine
from accounts.roles import BILLING, MANAGER, SUPPORT
from payments.models import FailedPaymentCase, Payment, ProviderEvent, ReceiptSequence, Refund
from plans.models import Plan, Price, Renewal, Usage
from reseller.consistency import consistency_check
from reseller.validators import validate_iccid

ALL_MODELS = [
    Partner,
    Customer,
    SimLine,
    Correction,
    AuditEntry,
    Plan,
    Price,
    Renewal,
    Usage,
    Payment,
    Refund,
    FailedPaymentCase,
    ProviderEvent,
    ReceiptSequence,
    get_user_model(),
]


def seed(*args: str) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def row_counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in ALL_MODELS}


def printed_password(output: str) -> str:
    passwords = set(re.findall(r"^\s+(?:manager|support|billing) / (\S+)", output, re.MULTILINE))
    assert len(passwords) == 1, output
    return passwords.pop()


@pytest.fixture
def fast_hashing(settings):
    # These tests are about the seed, not the hasher: PBKDF2 would be most of their time.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def bulk_lines():
    return SimLine.objects.filter(iccid__startswith=demo.bulk_iccid(0)[:10])


def test_seed_creates_catalogue_with_retail_prices_in_eur_cny_usd(db):
    seed("--no-staff")

    plans = list(Plan.objects.all())
    assert len(plans) == len(demo.CATALOGUE) == 9
    for plan in plans:
        plan.full_clean()
        retail = {p.currency: p.amount for p in plan.prices.filter(channel=Price.Channel.RETAIL)}
        partner = {p.currency: p.amount for p in plan.prices.filter(channel=Price.Channel.PARTNER)}
        assert set(retail) == {"EUR", "CNY", "USD"}
        assert set(partner) == {"EUR"}
        assert Decimal(0) < partner["EUR"] < retail["EUR"]
    eu30 = Plan.objects.get(code="eu-30d-20gb")
    assert {p.currency: p.amount for p in eu30.prices.filter(channel="retail")} == {
        "EUR": Decimal("19.90"),
        "CNY": Decimal("155.00"),
        "USD": Decimal("21.90"),
    }
    assert (eu30.name_en, eu30.name_fr, eu30.name_zh_hans) == (
        "Europe 30 days 20 GB",
        "Europe 30 jours 20 Go",
        "欧洲30天 20GB",
    )
    assert {plan.validity_days for plan in plans} == {1, 7, 30, 90, 365}
    assert [plan.code for plan in plans if plan.data_mb is None] == ["eu-30d-unlimited"]
    assert [plan.code for plan in plans if plan.activation_policy == "first_use"] == ["eu-cn-30d-15gb"]
    assert [plan.code for plan in plans if not plan.for_esim] == ["eu-365d-100gb"]
    assert {plan.code for plan in plans if not plan.for_physical} == {"fr-day-pass", "eu-cn-30d-15gb"}
    assert Plan.objects.get(code="fr-day-pass").coverage == ["FR"]
    assert {"FR", "DE", "GB", "CH", "CN"} <= set(Plan.objects.get(code="eu-cn-30d-15gb").coverage)


def test_every_seeded_customer_and_line_passes_validation(db):
    output = seed("--no-staff")

    lines = list(SimLine.objects.all())
    assert output.startswith(f"Demo data ready: 9 plans, 50 customers, {len(lines)} lines.")
    assert Customer.objects.count() == 50
    for customer in Customer.objects.all():
        customer.full_clean()
        assert customer.email.endswith(("@example.com", "@example.org"))
        assert customer.phone.startswith("+336")
        assert customer.country == "FR"
    for line in lines:
        validate_iccid(line.iccid)
        line.full_clean()
        if line.kind == SimLine.Kind.ESIM:
            assert line.activation_code.startswith("LPA:1$")
        else:
            assert line.activation_code == ""
    assert {c.language for c in Customer.objects.all()} == {"zh-hans", "fr", "en"}
    assert {c.timezone for c in Customer.objects.all()} == {"Europe/Paris", "Asia/Shanghai"}
    assert Partner.objects.count() == 2
    assert Customer.objects.filter(partner__isnull=False).exists()
    assert Customer.objects.filter(partner__isnull=True).count() > 25


def test_demo_lines_cover_the_cases_support_meets(db):
    seed("--no-staff")
    now = timezone.now()

    active = SimLine.objects.filter(status=SimLine.Status.ACTIVE)
    assert active.filter(expires_at__gt=now).count() == active.count() > 50
    assert active.filter(expires_at__lte=now + timedelta(days=3)).count() >= 3
    assert active.filter(expires_at__lte=now + timedelta(days=7)).count() >= 8
    assert SimLine.objects.filter(status=SimLine.Status.EXPIRED, expires_at__lt=now).count() == 5
    assert SimLine.objects.filter(status=SimLine.Status.SUSPENDED).count() == 1
    inactive = SimLine.objects.filter(status=SimLine.Status.INACTIVE)
    assert inactive.count() == 2
    assert not inactive.filter(plan__isnull=False).exists()
    assert not Renewal.objects.filter(line__in=inactive).exists()
    auto = SimLine.objects.filter(auto_renew=True)
    assert auto.exists() and not auto.filter(auto_renew_plan__isnull=True).exists()


def test_paid_renewals_have_one_succeeded_payment_and_declines_are_followed_up(db):
    seed("--no-staff")

    paid = Renewal.objects.filter(status__in=[Renewal.Status.ACTIVE, Renewal.Status.REFUNDED])
    assert Payment.objects.filter(status=Payment.Status.SUCCEEDED).count() == paid.count()
    for renewal in paid:
        payment = renewal.payments.get(status=Payment.Status.SUCCEEDED)
        assert (payment.amount, payment.currency) == (renewal.price_amount, renewal.currency)
        assert payment.paid_at == renewal.paid_at
        assert renewal.idempotency_scope == "demo"
        assert (renewal.data_mb, renewal.validity_days) == (renewal.plan.data_mb, renewal.plan.validity_days)
    methods = set(Payment.objects.values_list("method", flat=True))
    assert {"card", "apple_pay", "alipay", "wechat_pay", "cash", "bank_transfer"} <= methods
    failed = Payment.objects.filter(status=Payment.Status.FAILED)
    assert failed.count() >= 3
    assert not failed.filter(decline_code="").exists()
    assert not failed.filter(failure_message="").exists()
    case = FailedPaymentCase.objects.get()
    assert case.status == FailedPaymentCase.Status.OPEN
    assert case.renewal.status == Renewal.Status.FAILED
    assert case.payment.decline_code == case.last_decline_code == "insufficient_funds"
    for refund in Refund.objects.all():
        assert refund.payment.renewal.status == Renewal.Status.REFUNDED
        assert refund.amount == refund.payment.amount


def test_renewal_periods_of_a_line_never_overlap_and_end_at_expiry(db):
    seed("--no-staff")

    periods = defaultdict(list)
    for renewal in Renewal.objects.filter(period_start__isnull=False).order_by("period_start"):
        periods[renewal.line_id].append(renewal)
    assert periods
    for line in SimLine.objects.filter(pk__in=periods):
        renewals = periods[line.pk]
        for earlier, later in pairwise(renewals):
            assert earlier.period_end <= later.period_start
            assert earlier.paid_at <= later.paid_at <= later.period_start
        assert renewals[-1].period_end == line.expires_at
        assert line.plan_id == renewals[-1].plan_id


def test_usage_is_recorded_within_the_current_period(db):
    seed("--no-staff")

    assert Usage.objects.exists()
    for usage in Usage.objects.select_related("line"):
        current = usage.line.renewals.filter(period_end=usage.line.expires_at).get()
        assert current.period_start <= usage.recorded_at <= timezone.now()
        assert usage.source_record_id.startswith(f"demo-{usage.line.iccid}-")


def test_seeding_twice_changes_no_counts_and_keeps_every_identifier(db):
    seed("--no-staff")
    counts = row_counts()
    iccids = set(SimLine.objects.values_list("iccid", flat=True))
    receipts = dict(Payment.objects.values_list("renewal__idempotency_key", "receipt_number"))

    seed("--no-staff")

    assert row_counts() == counts
    assert set(SimLine.objects.values_list("iccid", flat=True)) == iccids
    assert dict(Payment.objects.values_list("renewal__idempotency_key", "receipt_number")) == receipts


def test_receipt_numbers_are_gapless_and_unique_per_year(db):
    seed("--no-staff")
    seed("--no-staff", "--lines", "20")

    numbers = defaultdict(list)
    for receipt in Payment.objects.exclude(receipt_number=None).values_list("receipt_number", flat=True):
        match = re.fullmatch(r"R(\d{4})-(\d{6})", receipt)
        assert match, receipt
        numbers[int(match[1])].append(int(match[2]))
    assert numbers
    for year, issued in numbers.items():
        last = ReceiptSequence.objects.get(year=year).last_number
        assert sorted(issued) == list(range(1, last + 1))


def test_staff_users_are_in_their_groups_and_log_in_with_the_printed_password(db, fast_hashing):
    output = seed()
    password = printed_password(output)

    assert "Staff logins for http://" in output
    for username, group in (("manager", MANAGER), ("support", SUPPORT), ("billing", BILLING)):
        user = get_user_model().objects.get(username=username)
        assert user.is_staff and not user.is_superuser
        assert list(user.groups.values_list("name", flat=True)) == [group]
        assert Client().login(username=username, password=password)


def test_reseeding_resets_the_staff_password(db, fast_hashing):
    first = printed_password(seed("--password", "first-demo-password"))
    second = printed_password(seed())

    assert first == "first-demo-password"
    assert second != first
    assert not Client().login(username="support", password=first)
    assert Client().login(username="support", password=second)
    assert get_user_model().objects.filter(username__in=["manager", "support", "billing"]).count() == 3


def test_no_staff_option_creates_no_logins(db):
    output = seed("--no-staff")

    assert "Staff logins" not in output
    assert not get_user_model().objects.exists()


def test_lines_option_adds_exactly_that_many_lines_once(db):
    seed("--no-staff")
    demo_lines = SimLine.objects.count()

    output = seed("--no-staff", "--lines", "500")

    assert "Bulk lines: 500 requested, 500 created" in output
    assert SimLine.objects.count() == demo_lines + 500
    bulk = bulk_lines()
    assert bulk.count() == 500
    assert Renewal.objects.filter(line__in=bulk, status=Renewal.Status.ACTIVE).count() == 500
    assert Renewal.objects.filter(line__in=bulk).count() == 500
    assert Payment.objects.filter(renewal__line__in=bulk, status=Payment.Status.SUCCEEDED).count() == 500
    assert Payment.objects.filter(renewal__line__in=bulk).count() == 500
    assert Customer.objects.count() == 50 + 500
    for line in bulk.order_by("?")[:20]:
        line.full_clean()
        assert line.expires_at > timezone.now()

    counts = row_counts()
    assert "500 requested, 0 created" in seed("--no-staff", "--lines", "500")
    assert row_counts() == counts


def test_a_freshly_seeded_database_passes_the_consistency_check(db):
    seed("--no-staff", "--lines", "40")

    out = StringIO()
    call_command("consistency_check", stdout=out)  # raises CommandError on any violation

    report = consistency_check()
    assert report.violation_count == 0, report.as_text()
    assert report.result("audit").checked > 2 * 40  # the seeded history was looked at
    assert out.getvalue().rstrip().endswith("consistency check: PASS")


def test_the_seeded_history_is_audited_as_the_seed_did_it_when_it_happened(db):
    seed("--no-staff", "--lines", "5")

    payment = Payment.objects.filter(renewal__line__in=bulk_lines()).first()
    entries = AuditEntry.objects.filter(content_type__model="payment", object_id=str(payment.pk))
    [recorded] = entries
    assert (recorded.action, recorded.actor_kind, recorded.actor_label, recorded.channel) == (
        "payment.recorded",
        "system",
        "seed_demo",
        "system",
    )
    assert recorded.occurred_at == payment.paid_at
    assert Decimal(recorded.changes["amount"][1]) == payment.amount
    assert (recorded.changes["currency"], recorded.changes["method"]) == ("EUR", payment.method)
    [paid] = AuditEntry.objects.filter(content_type__model="renewal", object_id=str(payment.renewal_id))
    assert (paid.action, paid.occurred_at) == ("renewal.paid", payment.renewal.paid_at)
    declined = Payment.objects.filter(status=Payment.Status.FAILED).first()
    [started] = AuditEntry.objects.filter(content_type__model="payment", object_id=str(declined.pk))
    assert started.action == "payment.started"


def test_bulk_seeding_resumes_across_batches(db):
    seed("--no-staff")

    assert demo.seed_bulk_lines(4, batch_size=3) == 4
    assert demo.seed_bulk_lines(7, batch_size=3) == 3
    assert demo.count_bulk_lines(7) == bulk_lines().count() == 7


def test_bulk_iccids_are_valid_distinct_and_below_the_demo_lines():
    indexes = [*range(0, 200), 99_999, 1_000_000, 49_999_999]
    iccids = [demo.bulk_iccid(index) for index in indexes]

    for iccid in iccids:
        validate_iccid(iccid)  # checks the Luhn digit with its own code, not make_iccid's
        assert len(iccid) == 20
    assert len(set(iccids)) == len(indexes)
    assert iccids == sorted(iccids)  # string order is index order: the resume query relies on it
    assert iccids[-1] < demo.demo_blueprint()[0].lines[0].iccid


def test_seeded_bulk_lines_have_valid_iccids(db):
    seed("--no-staff")
    demo.seed_bulk_lines(30, batch_size=7)

    iccids = list(bulk_lines().values_list("iccid", flat=True))
    assert len(iccids) == 30
    for iccid in iccids:
        validate_iccid(iccid)


def test_seed_refuses_to_run_in_production(db, settings):
    settings.PRODUCTION = True

    with pytest.raises(CommandError):
        seed()

    assert not Customer.objects.exists()


def test_blueprint_is_the_same_on_every_call_with_unique_keys():
    first, second = demo.demo_blueprint(), demo.demo_blueprint()

    assert first == second
    assert len({customer.email for customer in first}) == 50
    lines = [line for customer in first for line in customer.lines]
    assert len({line.iccid for line in lines}) == len(lines)
    assert len({line.msisdn for line in lines}) == len(lines)
