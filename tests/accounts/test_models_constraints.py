"""What the database itself refuses for partners, customers, lines and corrections, whatever
code writes the row (objects.create and save skip full_clean); plus the append-only audit trail."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import DataError, IntegrityError, transaction
from django.db.models import ProtectedError
from django.utils import timezone

from accounts.audit import audit_record
from accounts.identifiers import make_activation_code, make_iccid, make_msisdn
from accounts.models import AuditEntry, Correction, Customer, Partner, SimLine
from payments.models import Payment
from reseller.actors import Actor
from reseller.request_context import request_id_var
from tests.db import refused, refused_as_duplicate
from tests.factories import (
    CorrectionFactory,
    CustomerFactory,
    PartnerFactory,
    PaymentFactory,
    PlanFactory,
    SimLineFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

VALID_ICCID = make_iccid(5_000_001)
# Right format (the database accepts it), wrong Luhn digit (full_clean does not).
WRONG_CHECK_DIGIT_ICCID = VALID_ICCID[:-1] + str((int(VALID_ICCID[-1]) + 1) % 10)


# ---------------------------------------------------------------- SimLine: ICCID and MSISDN


@pytest.mark.parametrize(
    "iccid",
    [
        "",
        "89332000000000001",  # 17 digits
        "88332000000000000019",  # 20 digits but 88
        "8933200000000000001A",
        "8933A000000000000019",
        "89 3320 0000 0000 01",
        "-8933200000000000001",
    ],
)
def test_database_refuses_iccid_with_bad_format(iccid):
    with refused("line_iccid_format"), transaction.atomic():
        SimLineFactory(iccid=iccid)

    assert SimLine.objects.count() == 0


def test_database_refuses_iccid_with_a_trailing_newline():
    # The usual shape of a value read line by line from a SIM stock file.
    with refused("line_iccid_format"), transaction.atomic():
        SimLineFactory(iccid=make_iccid(5_000_002)[:19] + "\n")

    assert SimLine.objects.count() == 0


def test_database_accepts_19_and_20_digit_iccids():
    SimLineFactory(iccid=make_iccid(5_000_003))
    SimLineFactory(iccid="8933200000000000006")  # 19 digits

    assert SimLine.objects.count() == 2


def test_database_refuses_duplicate_iccid():
    SimLineFactory(iccid=VALID_ICCID)

    with refused_as_duplicate(), transaction.atomic():
        SimLineFactory(iccid=VALID_ICCID)

    assert SimLine.objects.filter(iccid=VALID_ICCID).count() == 1


def test_database_refuses_duplicate_msisdn():
    SimLineFactory(msisdn="+33612345678")

    with refused_as_duplicate(), transaction.atomic():
        SimLineFactory(msisdn="+33612345678")

    assert SimLine.objects.filter(msisdn="+33612345678").count() == 1


def test_database_accepts_many_lines_without_msisdn():
    SimLineFactory(msisdn=None)
    SimLineFactory(msisdn=None)

    assert SimLine.objects.filter(msisdn__isnull=True).count() == 2


# ---------------------------------------------------------------- SimLine: kind, code, status


def test_database_refuses_esim_without_activation_code():
    with refused("line_activation_code_matches_kind"), transaction.atomic():
        SimLineFactory(kind=SimLine.Kind.ESIM, activation_code="")

    assert SimLine.objects.count() == 0


@pytest.mark.parametrize("code", ["1$smdp.example.com$MATCH", "smdp.example.com", "LPA:2$smdp.example.com$X"])
def test_database_refuses_esim_with_a_code_that_is_not_an_lpa_code(code):
    with refused("line_activation_code_matches_kind"), transaction.atomic():
        SimLineFactory(kind=SimLine.Kind.ESIM, activation_code=code)

    assert SimLine.objects.count() == 0


def test_database_refuses_esim_with_a_lower_case_lpa_prefix():
    with refused("line_activation_code_matches_kind"), transaction.atomic():
        SimLineFactory(kind=SimLine.Kind.ESIM, activation_code="lpa:1$smdp.example.com$MATCH")

    assert SimLine.objects.count() == 0


def test_database_refuses_physical_sim_with_activation_code():
    with refused("line_activation_code_matches_kind"), transaction.atomic():
        SimLineFactory(kind=SimLine.Kind.PHYSICAL, activation_code=make_activation_code("MATCH-1"))

    assert SimLine.objects.count() == 0


def test_database_accepts_esim_with_activation_code():
    line = SimLineFactory(esim=True)

    assert line.kind == "esim"
    assert line.activation_code.startswith("LPA:1$")


def test_database_refuses_auto_renew_without_plan():
    with refused("line_autorenew_needs_plan"), transaction.atomic():
        SimLineFactory(auto_renew=True, auto_renew_plan=None)

    assert SimLine.objects.count() == 0


def test_database_accepts_auto_renew_with_plan():
    line = SimLineFactory(auto_renew=True, auto_renew_plan=PlanFactory())

    assert SimLine.objects.filter(pk=line.pk, auto_renew=True).exists()


@pytest.mark.parametrize("status", ["", "ACTIVE", "deleted", "pending"])
def test_database_refuses_unknown_line_status(status):
    with refused("line_status_valid"), transaction.atomic():
        SimLineFactory(status=status)

    assert SimLine.objects.count() == 0


@pytest.mark.parametrize("kind", ["", "usim", "ESIM", "nano"])
def test_database_refuses_unknown_line_kind(kind):
    with refused("line_(kind_valid|activation_code_matches_kind)"), transaction.atomic():
        SimLineFactory(kind=kind)

    assert SimLine.objects.count() == 0


def test_database_refuses_changing_a_saved_line_to_an_unknown_status():
    line = SimLineFactory()

    with refused("line_status_valid"), transaction.atomic():
        SimLine.objects.filter(pk=line.pk).update(status="lost")

    assert SimLine.objects.get(pk=line.pk).status == "active"


# ---------------------------------------------------------------- SimLine: full_clean, derived status


@pytest.mark.parametrize(
    ("iccid", "message"),
    [
        (
            WRONG_CHECK_DIGIT_ICCID,
            "This ICCID's check digit is wrong; please check the number on the SIM card.",
        ),
        ("8933200000000000001A", "An ICCID has digits only."),
        ("893320000000001", "An ICCID has 19 or 20 digits."),
    ],
)
def test_full_clean_reports_a_bad_iccid_on_the_iccid_field_in_plain_words(iccid, message):
    line = SimLine(customer=CustomerFactory(), iccid=iccid, msisdn=make_msisdn(4_000_001))

    with pytest.raises(ValidationError) as excinfo:
        line.full_clean()

    assert excinfo.value.message_dict == {"iccid": [message]}


def test_effective_status_is_expired_as_soon_as_the_period_has_ended():
    line = SimLineFactory(status=SimLine.Status.ACTIVE, expires_at=timezone.now() - timedelta(seconds=1))

    assert line.status == "active"
    assert line.effective_status == "expired"


def test_effective_status_is_active_while_the_period_runs():
    line = SimLineFactory(status=SimLine.Status.ACTIVE, expires_at=timezone.now() + timedelta(minutes=1))

    assert line.effective_status == "active"


@pytest.mark.parametrize("status", ["suspended", "terminated", "inactive"])
def test_effective_status_keeps_other_statuses_after_expiry(status):
    line = SimLineFactory(status=status, expires_at=timezone.now() - timedelta(days=1))

    assert line.effective_status == status


# ---------------------------------------------------------------- Customer and Partner


@pytest.mark.parametrize("currency", ["XYZ", "eur", "EU", ""])
def test_database_refuses_customer_currency_outside_iso_4217(currency):
    with refused("customer_currency_iso4217"), transaction.atomic():
        CustomerFactory(currency=currency)

    assert Customer.objects.count() == 0


def test_database_refuses_customer_currency_longer_than_three_letters():
    # SQLite refuses "EURO" with the ISO 4217 check, PostgreSQL already with varchar(3).
    with pytest.raises((IntegrityError, DataError)), transaction.atomic():
        CustomerFactory(currency="EURO")

    assert Customer.objects.count() == 0


@pytest.mark.parametrize("language", ["", "de", "zh", "EN"])
def test_database_refuses_unknown_customer_language(language):
    with refused("customer_language_valid"), transaction.atomic():
        CustomerFactory(language=language)

    assert Customer.objects.count() == 0


def test_database_refuses_two_customers_with_one_stripe_customer_id():
    CustomerFactory(stripe_customer_id="cus_Test123")

    with refused_as_duplicate(), transaction.atomic():
        CustomerFactory(stripe_customer_id="cus_Test123")

    assert Customer.objects.filter(stripe_customer_id="cus_Test123").count() == 1


def test_database_accepts_many_customers_without_stripe_customer_id():
    CustomerFactory(stripe_customer_id="")
    CustomerFactory(stripe_customer_id="")

    assert Customer.objects.filter(stripe_customer_id="").count() == 2


@pytest.mark.parametrize("status", ["", "deleted", "ACTIVE"])
def test_database_refuses_unknown_partner_status(status):
    with refused("partner_status_valid"), transaction.atomic():
        PartnerFactory(status=status)

    assert Partner.objects.count() == 0


@pytest.mark.parametrize("currency", ["XYZ", "usd"])
def test_database_refuses_partner_currency_outside_iso_4217(currency):
    with refused("partner_currency_iso4217"), transaction.atomic():
        PartnerFactory(default_currency=currency)

    assert Partner.objects.count() == 0


def test_database_refuses_duplicate_partner_code():
    PartnerFactory(code="agence-a")

    with refused_as_duplicate(), transaction.atomic():
        PartnerFactory(code="agence-a")

    assert Partner.objects.filter(code="agence-a").count() == 1


# ---------------------------------------------------------------- Correction


@pytest.mark.parametrize("kind", ["balance", "expiry", "sim_swap", "owner_move"])
def test_database_refuses_a_line_correction_without_a_line(kind):
    customer = CustomerFactory()

    with refused("correction_line_required"), transaction.atomic():
        CorrectionFactory(kind=kind, line=None, customer=customer)

    assert Correction.objects.count() == 0


def test_database_accepts_a_details_correction_without_a_line():
    correction = CorrectionFactory(
        kind=Correction.Kind.DETAILS,
        line=None,
        customer=CustomerFactory(),
        field="email",
        before={"email": "old@example.com"},
        after={"email": "new@example.com"},
        data_mb_delta=0,
        reason=Correction.Reason.TYPO,
    )

    assert Correction.objects.get(pk=correction.pk).line is None


def test_database_refuses_a_decided_correction_without_decision_time():
    with refused("correction_decided_when_closed"), transaction.atomic():
        CorrectionFactory(status=Correction.Status.APPLIED, decided_at=None)

    assert Correction.objects.count() == 0


def test_database_refuses_a_requested_correction_with_a_decision_time():
    with refused("correction_decided_when_closed"), transaction.atomic():
        CorrectionFactory(status=Correction.Status.REQUESTED, decided_at=timezone.now())

    assert Correction.objects.count() == 0


@pytest.mark.parametrize(
    ("field_values", "constraint"),
    [
        ({"reason": ""}, "correction_reason_valid"),
        ({"reason": "because"}, "correction_reason_valid"),
        ({"channel": "phone"}, "correction_channel_valid"),
        ({"kind": "refund"}, "correction_kind_valid"),
        ({"status": "done", "decided_at": timezone.now()}, "correction_status_valid"),
    ],
)
def test_database_refuses_correction_with_unknown_choice(field_values, constraint):
    with refused(constraint), transaction.atomic():
        CorrectionFactory(**field_values)

    assert Correction.objects.count() == 0


# ---------------------------------------------------------------- audit trail


@pytest.fixture
def audited_payment():
    return PaymentFactory(amount=Decimal("19.90"), currency="EUR")


@pytest.fixture
def audit_entry(audited_payment):
    return audit_record(
        actor=Actor.system("tests"), action="payment.succeeded", obj=audited_payment, reason="webhook"
    )


def test_audit_record_writes_one_entry_with_actor_action_object_changes_and_reason(audited_payment):
    agent = UserFactory(username="billing-agent", is_staff=True)

    entry = audit_record(
        actor=Actor.staff(agent),
        action="refund.requested",
        obj=audited_payment,
        changes={
            "amount": Decimal("19.90"),
            "kwd_amount": Decimal("1.230"),
            "status": ["pending", "succeeded"],
        },
        reason="Customer could not use the plan",
    )

    assert AuditEntry.objects.count() == 1
    stored = AuditEntry.objects.get(pk=entry.pk)
    assert stored.actor_kind == "staff"
    assert stored.actor_user == agent
    assert stored.actor_partner is None
    assert stored.actor_label == "billing-agent"
    assert stored.channel == "admin"
    assert stored.action == "refund.requested"
    assert stored.content_type == ContentType.objects.get_for_model(Payment)
    assert stored.object_id == str(audited_payment.pk)
    assert stored.object_repr == audited_payment.receipt_number
    assert stored.reason == "Customer could not use the plan"
    # Exact strings, trailing zeros kept; a float would have become 19.9 and 1.23.
    assert stored.changes == {
        "amount": "19.90",
        "kwd_amount": "1.230",
        "status": ["pending", "succeeded"],
    }
    assert isinstance(stored.changes["amount"], str)


def test_audit_record_for_a_system_actor_has_a_label_and_no_user(audited_payment):
    entry = audit_record(
        actor=Actor.system("auto_renew"),
        action="line.renewed",
        obj=audited_payment,
        reason="recorded by a test",
    )

    stored = AuditEntry.objects.get(pk=entry.pk)
    assert (stored.actor_kind, stored.channel, stored.actor_label) == ("system", "system", "auto_renew")
    assert stored.actor_user is None
    assert stored.changes == {}
    assert stored.reason == "recorded by a test"


@pytest.mark.parametrize("reason", ["", "   "])
def test_an_audit_entry_without_a_reason_is_refused(audited_payment, reason):
    with pytest.raises(ValueError):
        audit_record(actor=Actor.system("tests"), action="line.renewed", obj=audited_payment, reason=reason)
    assert not AuditEntry.objects.exists()


def test_audit_record_for_a_partner_names_the_partner(audited_payment, partner_a):
    entry = audit_record(
        actor=Actor.for_partner(partner_a),
        action="refund.requested",
        obj=audited_payment,
        reason="recorded by a test",
    )

    stored = AuditEntry.objects.get(pk=entry.pk)
    assert (stored.actor_kind, stored.channel) == ("partner", "api")
    assert stored.actor_partner == partner_a
    assert stored.actor_label == "agence-a"


def test_audit_record_keeps_the_request_id(audited_payment):
    token = request_id_var.set("req-7f3a")
    try:
        entry = audit_record(
            actor=Actor.system("tests"),
            action="payment.succeeded",
            obj=audited_payment,
            reason="recorded by a test",
        )
    finally:
        request_id_var.reset(token)

    assert AuditEntry.objects.get(pk=entry.pk).request_id == "req-7f3a"


def test_audit_record_refuses_float_values():
    with pytest.raises(TypeError, match="float"):
        audit_record(
            actor=Actor.system("tests"),
            action="payment.succeeded",
            changes={"amount": 19.9},
            reason="recorded by a test",
        )

    assert AuditEntry.objects.count() == 0


def test_saving_an_existing_audit_entry_isrefused(audit_entry):
    audit_entry.reason = "rewritten"

    with pytest.raises(PermissionError, match="append-only"):
        audit_entry.save()

    assert AuditEntry.objects.get(pk=audit_entry.pk).reason == "webhook"


def test_deleting_an_audit_entry_isrefused(audit_entry):
    with pytest.raises(PermissionError, match="append-only"):
        audit_entry.delete()

    assert AuditEntry.objects.filter(pk=audit_entry.pk).exists()


def test_bulk_update_of_audit_entries_isrefused(audit_entry):
    with pytest.raises(PermissionError, match="append-only"):
        AuditEntry.objects.filter(pk=audit_entry.pk).update(reason="rewritten")

    assert AuditEntry.objects.get(pk=audit_entry.pk).reason == "webhook"


def test_bulk_update_objects_of_audit_entries_isrefused(audit_entry):
    audit_entry.reason = "rewritten"

    # bulk_update opens its own atomic block without a savepoint: ours keeps the test usable.
    with pytest.raises(PermissionError, match="append-only"), transaction.atomic():
        AuditEntry.objects.bulk_update([audit_entry], ["reason"])

    assert AuditEntry.objects.get(pk=audit_entry.pk).reason == "webhook"


@pytest.mark.parametrize(
    "queryset",
    [lambda: AuditEntry.objects.filter(action="payment.succeeded"), lambda: AuditEntry.objects.all()],
)
def test_bulk_delete_of_audit_entries_isrefused(audit_entry, queryset):
    with pytest.raises(PermissionError, match="append-only"):
        queryset().delete()

    assert AuditEntry.objects.count() == 1


@pytest.mark.parametrize(
    "rewrite",
    [
        lambda pk: AuditEntry._base_manager.filter(pk=pk).update(reason="rewritten"),
        lambda pk: AuditEntry._base_manager.filter(pk=pk).delete(),
    ],
    ids=["update", "delete"],
)
def test_the_base_manager_cannot_rewrite_audit_entries_either(audit_entry, rewrite):
    with pytest.raises(PermissionError, match="append-only"), transaction.atomic():
        rewrite(audit_entry.pk)

    assert AuditEntry.objects.get(pk=audit_entry.pk).reason == "webhook"


def test_deleting_the_user_who_acted_is_refused_so_the_trail_keeps_its_actor(audited_payment):
    agent = UserFactory(username="support-agent", is_staff=True)
    audit_record(actor=Actor.staff(agent), action="line.credited", obj=audited_payment, reason="outage")

    with pytest.raises(ProtectedError), transaction.atomic():
        agent.delete()

    assert AuditEntry.objects.get().actor_user == agent


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE accounts_auditentry SET reason = 'rewritten'",
        "DELETE FROM accounts_auditentry",
    ],
)
def test_raw_sql_cannot_rewrite_or_delete_audit_entries_on_postgresql(on_postgres, audit_entry, sql):
    from django.db import DatabaseError, connection

    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql)

    assert AuditEntry.objects.get(pk=audit_entry.pk).reason == "webhook"
