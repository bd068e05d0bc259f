"""Customer details: what a customer changes alone, what only staff change on their request,
and a new e-mail or phone number that takes effect only once the code sent to it comes back."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.contact_verification import MAX_ATTEMPTS, contact_change_confirm, contact_change_start
from accounts.corrections import correction_decide
from accounts.details import correction_request_create, customer_profile_update, details_correct
from accounts.models import AuditEntry, Correction, Customer, SimLine
from reseller.actors import Actor
from reseller.errors import DomainError
from tests.factories import SimLineFactory, UserFactory


@pytest.fixture
def sms_outbox():
    from notifications import sms

    sms.outbox.clear()
    yield sms.outbox
    sms.outbox.clear()


def as_customer(customer):
    return Actor.customer(customer.user)


def code_in(text: str) -> str:
    return re.search(r"\b(\d{6})\b", text).group(1)


# --- What a customer changes alone ------------------------------------------------------------


def test_a_customer_fixes_their_name_spelling_and_address_alone_and_it_is_audited(alice):
    changed = customer_profile_update(
        customer=alice,
        changes={"full_name": "Alice Martín", "city": "Lyon", "postal_code": "69001", "language": "fr"},
        actor=as_customer(alice),
    )
    assert changed == {
        "full_name": ["Alice Martin", "Alice Martín"],
        "city": ["", "Lyon"],
        "postal_code": ["", "69001"],
    }
    assert Customer.objects.get(pk=alice.pk).full_name == "Alice Martín"
    entry = AuditEntry.objects.get(action="customer.profile_updated")
    assert (entry.actor_kind, entry.channel, entry.actor_user) == ("customer", "self_service", alice.user)
    assert entry.reason == "changed by the customer"
    assert entry.changes["city"] == ["", "Lyon"]


def test_saving_an_unchanged_profile_writes_nothing(alice):
    assert (
        customer_profile_update(
            customer=alice, changes={"full_name": "Alice Martin"}, actor=as_customer(alice)
        )
        == {}
    )
    assert not AuditEntry.objects.exists()


@pytest.mark.parametrize("field", ["legal_name", "email", "phone", "partner", "currency"])
def test_a_customer_cannot_change_protected_details_directly(alice, field):
    with pytest.raises(DomainError) as refused:
        customer_profile_update(customer=alice, changes={field: "x"}, actor=as_customer(alice))
    assert refused.value.code == "protected_field"
    assert not AuditEntry.objects.exists()


@pytest.mark.parametrize(
    ("field", "value"), [("country", "XX"), ("timezone", "Mars/Olympus"), ("language", "de")]
)
def test_an_invalid_profile_value_is_refused_and_changes_nothing(alice, field, value):
    before = getattr(alice, field)
    with pytest.raises(DomainError):
        customer_profile_update(
            customer=alice, changes={field: value, "city": "Lyon"}, actor=as_customer(alice)
        )
    alice.refresh_from_db()
    assert (getattr(alice, field), alice.city) == (before, "")
    assert not AuditEntry.objects.exists()


# --- New contact e-mail and phone, confirmed by code ----------------------------------------


def test_a_new_email_takes_effect_only_with_the_code_sent_to_it(
    alice, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        contact_change_start(
            customer=alice, field="email", value="Alice.New@Example.com", actor=as_customer(alice)
        )
    assert Customer.objects.get(pk=alice.pk).email == "alice@example.com"
    assert [m.to for m in mailoutbox] == [["alice.new@example.com"]]
    code = code_in(mailoutbox[0].body)
    assert "15" in mailoutbox[0].body

    contact_change_confirm(customer=alice, field="email", code=code, actor=as_customer(alice))

    assert Customer.objects.get(pk=alice.pk).email == "alice.new@example.com"
    entry = AuditEntry.objects.get(action="customer.contact_changed")
    assert entry.changes == {"email": ["alice@example.com", "alice.new@example.com"]}
    assert entry.actor_user == alice.user


def test_a_new_phone_number_is_confirmed_by_sms(alice, sms_outbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        contact_change_start(customer=alice, field="phone", value="06 12 34 56 78", actor=as_customer(alice))
    assert [m.to for m in sms_outbox] == ["+33612345678"]
    contact_change_confirm(
        customer=alice, field="phone", code=code_in(sms_outbox[0].body), actor=as_customer(alice)
    )
    assert Customer.objects.get(pk=alice.pk).phone == "+33612345678"


def test_a_wrong_code_changes_nothing_and_five_wrong_codes_end_the_verification(
    alice, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        contact_change_start(customer=alice, field="email", value="new@example.com", actor=as_customer(alice))
    right = code_in(mailoutbox[0].body)
    wrong = f"{(int(right) + 1) % 10**6:06d}"
    for _ in range(MAX_ATTEMPTS):
        with pytest.raises(DomainError) as refused:
            contact_change_confirm(customer=alice, field="email", code=wrong, actor=as_customer(alice))
        assert refused.value.code == "wrong_code"
    with pytest.raises(DomainError) as refused:
        contact_change_confirm(customer=alice, field="email", code=right, actor=as_customer(alice))
    assert refused.value.code == "expired"
    assert Customer.objects.get(pk=alice.pk).email == "alice@example.com"


def test_an_expired_code_is_refused(alice, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        verification = contact_change_start(
            customer=alice, field="email", value="new@example.com", actor=as_customer(alice)
        )
    type(verification).objects.filter(pk=verification.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    with pytest.raises(DomainError) as refused:
        contact_change_confirm(
            customer=alice, field="email", code=code_in(mailoutbox[0].body), actor=as_customer(alice)
        )
    assert refused.value.code == "expired"


def test_a_customer_asks_for_at_most_five_codes_an_hour(
    alice, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(5):
            contact_change_start(
                customer=alice, field="email", value=f"n{n}@example.com", actor=as_customer(alice)
            )
        with pytest.raises(DomainError) as refused:
            contact_change_start(
                customer=alice, field="email", value="n6@example.com", actor=as_customer(alice)
            )
    assert refused.value.code == "rate_limited"
    assert len(mailoutbox) == 5


@pytest.mark.parametrize(("field", "value"), [("email", "not-an-address"), ("phone", "12"), ("city", "Lyon")])
def test_an_invalid_new_contact_is_refused_before_any_code_is_sent(alice, mailoutbox, field, value):
    with pytest.raises(DomainError):
        contact_change_start(customer=alice, field=field, value=value, actor=as_customer(alice))
    assert mailoutbox == []


# --- Requests staff decide ------------------------------------------------------------------


@pytest.fixture
def alices_line(alice, plan):
    return SimLineFactory(customer=alice, plan=plan)


def test_a_request_for_the_identity_name_waits_for_staff_and_changes_nothing_until_then(alice):
    request = correction_request_create(
        customer=alice,
        field="legal_name",
        value="MARTIN Alice Jeanne",
        comment="as on my passport",
        actor=as_customer(alice),
    )
    assert (request.status, request.kind, request.channel) == ("requested", "details", "self_service")
    assert (request.before, request.after) == ({"legal_name": ""}, {"legal_name": "MARTIN Alice Jeanne"})
    assert Customer.objects.get(pk=alice.pk).legal_name == ""
    entry = AuditEntry.objects.get(action="correction.requested")
    assert entry.actor_user == alice.user and entry.reason == "customer request: as on my passport"


def test_staff_approve_a_request_with_a_comment_and_the_customer_is_told(
    alice, support_agent, mailoutbox, django_capture_on_commit_callbacks
):
    request = correction_request_create(
        customer=alice, field="legal_name", value="MARTIN Alice", comment="", actor=as_customer(alice)
    )
    with django_capture_on_commit_callbacks(execute=True):
        correction_decide(
            correction=request, approve=True, comment="Passport checked.", actor=Actor.staff(support_agent)
        )
    request.refresh_from_db()
    assert (request.status, request.decided_by, request.decision_comment) == (
        "applied",
        support_agent,
        "Passport checked.",
    )
    assert Customer.objects.get(pk=alice.pk).legal_name == "MARTIN Alice"
    assert [m.to for m in mailoutbox] == [["alice@example.com"]]
    assert "Passport checked." in mailoutbox[0].body
    assert "Alice Martin" in mailoutbox[0].body


def test_a_rejected_request_changes_nothing_but_its_status_and_says_why(
    alice, alices_line, support_agent, mailoutbox, django_capture_on_commit_callbacks
):
    old_msisdn = alices_line.msisdn
    request = correction_request_create(
        customer=alice,
        line=alices_line,
        field="msisdn",
        value="+33698765432",
        comment="ported my number",
        actor=as_customer(alice),
    )
    with django_capture_on_commit_callbacks(execute=True):
        correction_decide(
            correction=request,
            approve=False,
            comment="The carrier has no port-in for this number.",
            actor=Actor.staff(support_agent),
        )
    request.refresh_from_db()
    assert request.status == "rejected"
    assert SimLine.objects.get(pk=alices_line.pk).msisdn == old_msisdn
    assert "carrier has no port-in" in mailoutbox[0].body
    assert (
        AuditEntry.objects.get(action="correction.rejected").reason
        == "The carrier has no port-in for this number."
    )


def test_a_decision_needs_a_comment_and_a_staff_member_allowed_to_decide(alice, billing_agent, support_agent):
    request = correction_request_create(
        customer=alice, field="legal_name", value="MARTIN Alice", comment="", actor=as_customer(alice)
    )
    with pytest.raises(DomainError) as refused:
        correction_decide(correction=request, approve=True, comment=" ", actor=Actor.staff(support_agent))
    assert refused.value.code == "comment"
    outsider = UserFactory(username="outsider", is_staff=True)
    with pytest.raises(DomainError) as refused:
        correction_decide(correction=request, approve=True, comment="ok", actor=Actor.staff(outsider))
    assert refused.value.code == "permission"
    assert Correction.objects.get(pk=request.pk).status == "requested"


def test_a_physical_sim_replacement_request_swaps_the_iccid_when_approved(alice, alices_line, support_agent):
    from accounts.identifiers import make_iccid

    new_iccid = make_iccid(987654)
    request = correction_request_create(
        customer=alice,
        line=alices_line,
        field="iccid",
        value=new_iccid,
        comment="old card broke",
        actor=as_customer(alice),
    )
    assert request.kind == "sim_swap"
    correction_decide(
        correction=request, approve=True, comment="New card sent.", actor=Actor.staff(support_agent)
    )
    assert SimLine.objects.get(pk=alices_line.pk).iccid == new_iccid


def test_an_owner_move_request_gives_the_line_to_the_customer_with_that_email(
    alice, bob, alices_line, support_agent
):
    SimLine.objects.filter(pk=alices_line.pk).update(auto_renew=True, auto_renew_plan=alices_line.plan)
    request = correction_request_create(
        customer=alice,
        line=alices_line,
        field="owner",
        value="BOB@example.com",
        comment="my husband's SIM",
        actor=as_customer(alice),
    )
    correction_decide(
        correction=request, approve=True, comment="Both confirmed.", actor=Actor.staff(support_agent)
    )
    line = SimLine.objects.get(pk=alices_line.pk)
    assert (line.customer_id, line.auto_renew) == (bob.pk, False)


def test_an_owner_move_to_an_unknown_email_cannot_be_approved(alice, alices_line, support_agent):
    request = correction_request_create(
        customer=alice,
        line=alices_line,
        field="owner",
        value="nobody@example.com",
        comment="",
        actor=as_customer(alice),
    )
    with pytest.raises(DomainError) as refused:
        correction_decide(correction=request, approve=True, comment="ok", actor=Actor.staff(support_agent))
    assert refused.value.code == "owner"
    assert SimLine.objects.get(pk=alices_line.pk).customer_id == alice.pk
    assert Correction.objects.get(pk=request.pk).status == "requested"


def test_a_customer_cannot_ask_about_another_customers_line(alice, bob, plan):
    bobs_line = SimLineFactory(customer=bob, plan=plan)
    with pytest.raises(DomainError) as refused:
        correction_request_create(
            customer=alice,
            line=bobs_line,
            field="msisdn",
            value="+33698765432",
            comment="",
            actor=as_customer(alice),
        )
    assert refused.value.code == "not_found"
    assert not Correction.objects.exists()


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("iccid", "8933", "value"),
        ("msisdn", "12", "value"),
        ("owner", "x@", "value"),
        ("full_name", "X", "field"),
    ],
)
def test_an_invalid_request_is_refused_and_records_nothing(alice, alices_line, field, value, code):
    with pytest.raises(DomainError) as refused:
        correction_request_create(
            customer=alice, line=alices_line, field=field, value=value, comment="", actor=as_customer(alice)
        )
    assert refused.value.code == code
    assert not Correction.objects.exists()


def test_one_open_request_per_field_at_a_time(alice):
    correction_request_create(
        customer=alice, field="legal_name", value="A", comment="", actor=as_customer(alice)
    )
    with pytest.raises(DomainError) as refused:
        correction_request_create(
            customer=alice, field="legal_name", value="B", comment="", actor=as_customer(alice)
        )
    assert refused.value.code == "pending"


# --- Staff corrections of details -----------------------------------------------------------


def test_staff_correct_details_with_a_reason_and_a_ledger_row(alice, support_agent):
    correction = details_correct(
        customer=alice,
        changes={"legal_name": "MARTIN Alice", "city": "Paris"},
        reason="customer_request",
        comment="Called on 3 May, passport seen.",
        actor=Actor.staff(support_agent),
    )
    assert (correction.kind, correction.status, correction.decided_by) == (
        "details",
        "applied",
        support_agent,
    )
    assert correction.before == {"legal_name": "", "city": ""}
    assert correction.after == {"legal_name": "MARTIN Alice", "city": "Paris"}
    entry = AuditEntry.objects.get(action="customer.corrected")
    assert entry.reason == "customer_request: Called on 3 May, passport seen."


@pytest.mark.parametrize(("reason", "comment"), [("", "why"), ("typo", " "), ("made_up", "why")])
def test_a_staff_correction_without_a_valid_reason_and_comment_changes_nothing(
    alice, support_agent, reason, comment
):
    with pytest.raises(DomainError):
        details_correct(
            customer=alice,
            changes={"city": "Paris"},
            reason=reason,
            comment=comment,
            actor=Actor.staff(support_agent),
        )
    assert Customer.objects.get(pk=alice.pk).city == ""
    assert not Correction.objects.exists()
