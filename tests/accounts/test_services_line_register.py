"""Registering lines: a physical SIM by its ICCID (Luhn-checked, unique) and number (E.164,
unique), an eSIM ordered from the carrier (sandbox) with its activation code. New lines are
inactive, every registration is audited, a repeat returns the same line, and a carrier that
does not answer leaves nothing behind."""

import pytest
from django.core.exceptions import ValidationError

from accounts.identifiers import make_iccid, make_msisdn
from accounts.line_registration import CarrierUnavailable, esim_issue, line_register
from accounts.models import AuditEntry, SimLine
from carrier.models import SandboxEsimProfile
from carrier.sandbox import SANDBOX_ICCID_PREFIX, SandboxCarrier, sandbox_fail_next
from reseller.actors import Actor
from reseller.errors import DomainError
from reseller.validators import luhn_is_valid, parse_activation_code
from tests.factories import CustomerFactory, SimLineFactory

pytestmark = pytest.mark.django_db

ICCID = make_iccid(777)


@pytest.fixture
def staff(manager):
    return Actor.staff(manager)


def test_a_physical_sim_is_registered_inactive_without_a_plan_and_audited(alice, staff):
    spaced = " ".join(ICCID[i : i + 4] for i in range(0, 20, 4))
    line = line_register(
        customer=alice, iccid=spaced, msisdn="+33 6 12 34 56 78", actor=staff, reason="sold at the counter"
    )
    line.refresh_from_db()
    assert (line.iccid, line.msisdn, line.kind, line.status) == (
        ICCID,
        "+33612345678",
        "physical",
        "inactive",
    )
    assert (line.plan, line.expires_at, line.activation_code) == (None, None, "")
    entry = AuditEntry.objects.get(action="line.registered")
    assert (entry.object_id, entry.actor_user_id, entry.reason) == (
        str(line.pk),
        staff.user.pk,
        "sold at the counter",
    )
    assert entry.changes["iccid"] == [None, ICCID]


def test_the_number_is_optional(alice, staff):
    assert line_register(customer=alice, iccid=ICCID, actor=staff).msisdn is None


@pytest.mark.parametrize(
    "iccid, code",
    [
        (ICCID[:-1] + str((int(ICCID[-1]) + 1) % 10), "iccid_luhn"),
        ("8933", "iccid_length"),
        ("7933200000000007770", "iccid_prefix"),
        ("89332000000000A7773", "iccid_digits"),
    ],
)
def test_a_wrong_iccid_is_refused_by_field_and_nothing_is_written(alice, staff, iccid, code):
    with pytest.raises(ValidationError) as raised:
        line_register(customer=alice, iccid=iccid, actor=staff)
    assert [error.code for error in raised.value.error_dict["iccid"]] == [code]
    assert not SimLine.objects.exists() and not AuditEntry.objects.exists()


def test_a_number_not_in_e164_is_refused(alice, staff):
    with pytest.raises(ValidationError) as raised:
        line_register(customer=alice, iccid=ICCID, msisdn="0612345678", actor=staff)
    assert set(raised.value.error_dict) == {"msisdn"}
    assert not SimLine.objects.exists()


def test_registering_the_same_sim_again_returns_the_same_line_and_audits_once(alice, staff):
    first = line_register(customer=alice, iccid=ICCID, msisdn=make_msisdn(5), actor=staff)
    again = line_register(customer=alice, iccid=ICCID, msisdn=make_msisdn(5), actor=staff)
    assert again.pk == first.pk
    assert SimLine.objects.count() == 1
    assert AuditEntry.objects.filter(action="line.registered").count() == 1


def test_an_iccid_another_customer_holds_is_refused(alice, bob, staff):
    line_register(customer=alice, iccid=ICCID, actor=staff)
    with pytest.raises(ValidationError) as raised:
        line_register(customer=bob, iccid=ICCID, actor=staff)
    assert set(raised.value.error_dict) == {"iccid"}
    assert SimLine.objects.get().customer == alice


def test_a_number_another_line_holds_is_refused(alice, staff):
    taken = SimLineFactory(msisdn=make_msisdn(9))
    with pytest.raises(ValidationError) as raised:
        line_register(customer=alice, iccid=ICCID, msisdn=taken.msisdn, actor=staff)
    assert set(raised.value.error_dict) == {"msisdn"}
    assert SimLine.objects.count() == 1


# --- eSIMs ---------------------------------------------------------------------------------------


def test_an_esim_is_ordered_from_the_carrier_and_registered_with_its_activation_code(alice, staff):
    line = esim_issue(customer=alice, idempotency_key="admin:k1", actor=staff, reason="sold online")
    line.refresh_from_db()
    assert (line.kind, line.status, line.customer) == ("esim", "inactive", alice)
    assert line.iccid.startswith(SANDBOX_ICCID_PREFIX) and luhn_is_valid(line.iccid) and len(line.iccid) == 20
    assert parse_activation_code(line.activation_code)[0] == "smdp.sandbox-carrier.example"
    profile = SandboxEsimProfile.objects.get()
    assert profile.iccid == line.iccid and profile.matching_id in line.activation_code
    entry = AuditEntry.objects.get(action="line.esim_issued")
    assert (entry.object_id, entry.reason) == (str(line.pk), "sold online")


def test_each_order_gets_its_own_profile_and_iccid(alice, staff):
    lines = [esim_issue(customer=alice, idempotency_key=f"admin:{n}", actor=staff) for n in range(3)]
    assert len({line.iccid for line in lines}) == 3
    assert len({line.activation_code for line in lines}) == 3


def test_the_same_key_again_returns_the_same_esim_and_orders_one_profile(alice, staff):
    first = esim_issue(customer=alice, idempotency_key="admin:same", actor=staff)
    again = esim_issue(customer=alice, idempotency_key="admin:same", actor=staff)
    assert again.pk == first.pk
    assert SandboxEsimProfile.objects.count() == 1 and SimLine.objects.count() == 1
    assert AuditEntry.objects.filter(action="line.esim_issued").count() == 1


def test_the_same_key_for_another_customer_is_refused(alice, bob, staff):
    esim_issue(customer=alice, idempotency_key="admin:same", actor=staff)
    with pytest.raises(DomainError) as raised:
        esim_issue(customer=bob, idempotency_key="admin:same", actor=staff)
    assert raised.value.code == "idempotency_key_reused"
    assert SimLine.objects.get().customer == alice


def test_a_carrier_that_does_not_answer_leaves_nothing_and_a_retry_gets_the_line(alice, staff):
    sandbox_fail_next("esim_order", error="network timeout")
    with pytest.raises(CarrierUnavailable):
        esim_issue(customer=alice, idempotency_key="admin:retry", actor=staff)
    assert not SimLine.objects.exists() and not AuditEntry.objects.exists()
    line = esim_issue(customer=alice, idempotency_key="admin:retry", actor=staff)
    assert SimLine.objects.get() == line


def test_a_profile_reserved_before_our_write_failed_is_the_one_a_retry_registers(alice, staff):
    # The carrier answered but our side did not keep the line (say the process died): the
    # retry must find the reserved profile, not order a second one.
    from accounts.line_registration import esim_issue as issue

    class CarrierThenCrash(SandboxCarrier):
        def esim_order(self, *, reference):
            self.profile = super().esim_order(reference=reference)
            raise RuntimeError("crash after the carrier answered")

    crashing = CarrierThenCrash()
    with pytest.raises(RuntimeError):
        issue(customer=alice, idempotency_key="admin:crash", actor=staff, carrier=crashing)
    line = issue(customer=alice, idempotency_key="admin:crash", actor=staff)
    assert line.iccid == crashing.profile.iccid
    assert SandboxEsimProfile.objects.count() == 1


def test_an_idempotency_key_is_required(alice, staff):
    with pytest.raises(DomainError):
        esim_issue(customer=alice, idempotency_key="", actor=staff)
    assert not SandboxEsimProfile.objects.exists()


def test_partner_customers_get_lines_too(partner_a):
    customer = CustomerFactory(partner=partner_a)
    line = esim_issue(customer=customer, idempotency_key="partner:1:x", actor=Actor.for_partner(partner_a))
    assert AuditEntry.objects.get(action="line.esim_issued").actor_partner == partner_a
    assert line.customer == customer


# --- Races (PostgreSQL) ----------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_orders_with_one_key_register_one_esim(on_postgres, alice, manager):
    from tests.concurrency import run_concurrently

    def order(_index):
        return esim_issue(customer=alice, idempotency_key="admin:race", actor=Actor.staff(manager)).pk

    results = run_concurrently(order, 6)
    assert all(isinstance(pk, int) for pk in results), results
    assert len(set(results)) == 1
    assert SimLine.objects.count() == 1 and SandboxEsimProfile.objects.count() == 1
    assert AuditEntry.objects.filter(action="line.esim_issued").count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_control_without_the_order_reference_concurrent_orders_issue_six_esims(on_postgres, alice):
    """Shows the race the order's reference (made from the idempotency key, deduplicated by the
    carrier and our unique ICCID) prevents: looking for the order's eSIM, then ordering one,
    lets every concurrent retry order and register its own profile."""
    import threading

    from tests.concurrency import run_concurrently

    all_have_read = threading.Barrier(6)

    def order_naively(index):
        already = SimLine.objects.filter(customer=alice, kind=SimLine.Kind.ESIM).exists()
        # Every retry looks before any orders: the interleaving, forced so that the control
        # does not depend on thread timing.
        all_have_read.wait(timeout=30)
        if not already:
            # Ordered as each attempt's own order, not under the key's reference.
            profile = SandboxCarrier().esim_order(reference=f"admin:race:attempt-{index}")
            SimLine.objects.create(
                customer=alice,
                iccid=profile.iccid,
                kind=SimLine.Kind.ESIM,
                activation_code=profile.activation_code,
            )

    run_concurrently(order_naively, 6)
    assert SimLine.objects.filter(customer=alice).count() == 6
    assert SandboxEsimProfile.objects.count() == 6


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_registrations_of_one_sim_register_it_once(on_postgres, alice, manager):
    from tests.concurrency import run_concurrently

    def register(_index):
        return line_register(customer=alice, iccid=ICCID, actor=Actor.staff(manager)).pk

    results = run_concurrently(register, 6)
    assert all(isinstance(pk, int) for pk in results), results
    assert len(set(results)) == 1
    assert SimLine.objects.count() == 1
    assert AuditEntry.objects.filter(action="line.registered").count() == 1
