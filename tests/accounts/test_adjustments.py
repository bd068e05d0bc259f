"""Balance and expiry adjustments: ledger rows with a reason, applied at once when small,
waiting for a second person when large, undone by a compensating row; a rejection changes
nothing but the request's status."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.corrections import adjustment_request, correction_decide, correction_reverse
from accounts.models import AuditEntry, Correction, SimLine
from plans.balances import line_balance
from reseller.actors import Actor
from reseller.errors import DomainError
from tests.factories import RenewalFactory, SimLineFactory


@pytest.fixture
def running_line(plan):
    now = timezone.now()
    line = SimLineFactory(plan=plan, expires_at=now + timedelta(days=20))
    RenewalFactory(
        line=line, period_start=now - timedelta(days=10), period_end=line.expires_at, data_mb=20_000
    )
    return line


def credit(line, actor, **deltas):
    return adjustment_request(
        line=line, reason="abnormal_deduction", comment="billed twice on 3 May", actor=actor, **deltas
    )


def test_a_small_data_credit_by_support_is_applied_at_once_and_counts_in_the_balance(
    running_line, support_agent
):
    before = line_balance(running_line).data_allowance_mb
    correction = credit(running_line, Actor.staff(support_agent), data_mb=500)
    assert (correction.status, correction.decided_by) == ("applied", support_agent)
    assert line_balance(running_line).data_allowance_mb == before + 500
    entry = AuditEntry.objects.get(action="correction.applied")
    assert entry.actor_user == support_agent and entry.reason


def test_a_large_credit_waits_for_a_manager_and_counts_only_once_approved(
    running_line, support_agent, manager
):
    before = line_balance(running_line).data_allowance_mb
    correction = credit(running_line, Actor.staff(support_agent), data_mb=5_000)
    assert correction.status == "requested"
    assert line_balance(running_line).data_allowance_mb == before
    correction_decide(
        correction=correction, approve=True, actor=Actor.staff(manager), comment="checked the CDRs"
    )
    correction.refresh_from_db()
    assert (correction.status, correction.decided_by) == ("applied", manager)
    assert line_balance(running_line).data_allowance_mb == before + 5_000


def test_support_cannot_approve_and_nobody_approves_their_own_request(running_line, support_agent, manager):
    correction = credit(running_line, Actor.staff(manager), data_mb=5_000)
    for actor, code in [(Actor.staff(support_agent), "permission"), (Actor.staff(manager), "four_eyes")]:
        with pytest.raises(DomainError) as refused:
            correction_decide(correction=correction, approve=True, actor=actor, comment="ok")
        assert refused.value.code == code
    correction.refresh_from_db()
    assert correction.status == "requested"


def test_a_rejected_request_changes_nothing_and_says_why(running_line, support_agent, manager):
    expiry = running_line.expires_at
    correction = adjustment_request(
        line=running_line,
        reason="goodwill",
        comment="asked for a week",
        actor=Actor.staff(support_agent),
        expiry=timedelta(days=7),
    )
    with pytest.raises(DomainError):
        correction_decide(correction=correction, approve=False, actor=Actor.staff(manager), comment=" ")
    correction_decide(
        correction=correction, approve=False, actor=Actor.staff(manager), comment="not eligible"
    )
    correction.refresh_from_db()
    assert (correction.status, correction.decision_comment) == ("rejected", "not eligible")
    assert SimLine.objects.get(pk=running_line.pk).expires_at == expiry


def test_a_small_expiry_extension_moves_the_lines_expiry_with_before_and_after(running_line, support_agent):
    expiry = running_line.expires_at
    correction = adjustment_request(
        line=running_line,
        reason="network_outage",
        comment="outage on 2 May",
        actor=Actor.staff(support_agent),
        expiry=timedelta(days=2),
    )
    assert correction.status == "applied"
    assert SimLine.objects.get(pk=running_line.pk).expires_at == expiry + timedelta(days=2)
    assert correction.before == {"expires_at": expiry.isoformat()}


def test_a_wrong_adjustment_is_reversed_by_a_compensating_one(running_line, support_agent):
    before = line_balance(running_line).data_allowance_mb
    wrong = credit(running_line, Actor.staff(support_agent), data_mb=800)
    reversal = correction_reverse(correction=wrong, actor=Actor.staff(support_agent), comment="wrong line")
    assert (reversal.reverses, reversal.data_mb_delta, reversal.status) == (wrong, -800, "applied")
    assert line_balance(running_line).data_allowance_mb == before
    with pytest.raises(DomainError) as again:
        correction_reverse(correction=wrong, actor=Actor.staff(support_agent), comment="again")
    assert again.value.code == "reversed"
    assert Correction.objects.filter(line=running_line).count() == 2  # the ledger keeps both


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"reason": "not-a-reason"}, "reason"),
        ({"comment": "  "}, "comment"),
        ({"data_mb": 0}, "adjustment"),
        ({"data_mb": 10, "expiry": timedelta(days=1)}, "adjustment"),
    ],
)
def test_bad_requests_are_refused_and_change_nothing(running_line, support_agent, changes, code):
    arguments = {"reason": "goodwill", "comment": "because", "data_mb": 10, **changes}
    with pytest.raises(DomainError) as refused:
        adjustment_request(line=running_line, actor=Actor.staff(support_agent), **arguments)
    assert refused.value.code == code
    assert Correction.objects.count() == 0


# --- SIM swaps and owner moves ---------------------------------------------------------------------


def test_a_physical_sim_swap_keeps_the_lines_plan_balance_and_history(running_line, support_agent):
    from accounts.corrections import sim_swap
    from accounts.identifiers import make_iccid

    old_iccid = running_line.iccid
    balance = line_balance(running_line)
    new_iccid = make_iccid(9_000_001)
    correction = sim_swap(
        line=running_line,
        new_iccid=new_iccid,
        reason="lost_or_broken_sim",
        comment="lost in Lyon",
        actor=Actor.staff(support_agent),
    )
    line = SimLine.objects.get(pk=running_line.pk)
    assert (line.iccid, line.plan, line.expires_at) == (new_iccid, running_line.plan, running_line.expires_at)
    assert line_balance(line).data_allowance_mb == balance.data_allowance_mb
    assert (correction.kind, correction.before["iccid"], correction.after["iccid"]) == (
        "sim_swap",
        old_iccid,
        new_iccid,
    )
    assert AuditEntry.objects.filter(action="correction.sim_swap").exists()


@pytest.mark.parametrize(
    ("new_iccid", "code"),
    [("8933", "invalid"), ("89330000000000000001", "invalid"), ("", "iccid")],
)
def test_a_swap_to_a_bad_iccid_is_refused_and_changes_nothing(running_line, support_agent, new_iccid, code):
    from accounts.corrections import sim_swap

    with pytest.raises(DomainError) as refused:
        sim_swap(
            line=running_line,
            new_iccid=new_iccid,
            reason="typo",
            comment="x",
            actor=Actor.staff(support_agent),
        )
    assert refused.value.code == code
    assert SimLine.objects.get(pk=running_line.pk).iccid == running_line.iccid
    assert Correction.objects.count() == 0


def test_a_swap_to_another_lines_iccid_is_refused(running_line, support_agent):
    from accounts.corrections import sim_swap

    other = SimLineFactory()
    with pytest.raises(DomainError) as refused:
        sim_swap(
            line=running_line,
            new_iccid=other.iccid,
            reason="typo",
            comment="x",
            actor=Actor.staff(support_agent),
        )
    assert refused.value.code == "iccid_taken"
    assert Correction.objects.count() == 0


def test_an_esim_is_reissued_with_a_new_activation_code(plan, support_agent):
    from accounts.corrections import sim_swap
    from accounts.identifiers import make_activation_code

    esim = SimLineFactory(plan=plan, esim=True)
    code = make_activation_code("REISSUE-000001")
    sim_swap(
        line=esim,
        new_activation_code=code,
        reason="lost_or_broken_sim",
        comment="new phone",
        actor=Actor.staff(support_agent),
    )
    assert SimLine.objects.get(pk=esim.pk).activation_code == code


def test_moving_a_line_to_another_customer_turns_auto_renew_off(running_line, support_agent):
    from accounts.corrections import line_move
    from tests.factories import CustomerFactory

    SimLine.objects.filter(pk=running_line.pk).update(auto_renew=True, auto_renew_plan=running_line.plan)
    buyer = CustomerFactory()
    correction = line_move(
        line=running_line,
        to_customer=buyer,
        reason="customer_request",
        comment="sold the SIM",
        actor=Actor.staff(support_agent),
    )
    line = SimLine.objects.get(pk=running_line.pk)
    assert (line.customer, line.auto_renew) == (buyer, False)
    assert correction.kind == "owner_move" and correction.before["customer"] != correction.after["customer"]


def test_a_partners_adjustment_waits_for_staff_however_small(running_line, partner_a):
    before = line_balance(running_line).data_allowance_mb
    correction = credit(running_line, Actor.for_partner(partner_a), data_mb=1)
    assert (correction.status, correction.requested_by, correction.channel) == ("requested", None, "api")
    assert line_balance(running_line).data_allowance_mb == before
    assert not AuditEntry.objects.filter(action="correction.applied").exists()
