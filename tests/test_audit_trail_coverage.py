"""Every service that changes money, entitlement or customer data (listed once, in
accounts/audited_services.py) writes an audit entry that names who acted and says why.

Each listed service is called here for real (the local Stripe peer stands in for Stripe where
money moves); the entry it writes must carry the caller's actor (or, for the jobs that act on
their own, a named system actor) and a reason. A function that writes audit entries without
being listed fails the first test."""

import ast
import importlib
import io
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib import admin
from django.db.models import Max
from django.test import RequestFactory
from django.utils import timezone

from accounts.audited_services import AUDITED_SERVICES
from accounts.models import AuditEntry, Partner
from plans.models import Price, Renewal
from reseller.actors import Actor, Channel
from reseller.errors import DomainError
from tests import stripe_peer as peer_side
from tests.factories import (
    CustomerFactory,
    FailedPaymentCaseFactory,
    PartnerFactory,
    PaymentFactory,
    PriceFactory,
    RenewalFactory,
    SimLineFactory,
    UserFactory,
)

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ["accounts", "plans", "payments", "notifications", "carrier", "reseller", "api", "webhooks"]


# --- The list is complete ------------------------------------------------------------------


def _writers():
    """(module, qualified function name, names it calls) for every function in our code."""
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts or "tests" in path.parts:
                continue
            module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            tree = ast.parse(path.read_text())
            for node in tree.body:
                functions = [(node.name, node)] if isinstance(node, ast.FunctionDef) else []
                if isinstance(node, ast.ClassDef):
                    functions = [
                        (f"{node.name}.{item.name}", item)
                        for item in node.body
                        if isinstance(item, ast.FunctionDef)
                    ]
                for name, function in functions:
                    calls = {
                        getattr(call.func, "id", None) or getattr(call.func, "attr", None)
                        for call in ast.walk(function)
                        if isinstance(call, ast.Call)
                    }
                    yield module, name, calls


def test_every_function_that_writes_audit_entries_is_listed_or_called_by_a_listed_one():
    functions = {(module, name): calls for module, name, calls in _writers()}
    writers = {key for key, calls in functions.items() if "audit_record" in calls}
    listed = {tuple(path.rsplit(".", 1)) for path in AUDITED_SERVICES}
    listed |= {(path.rsplit(".", 2)[0], ".".join(path.rsplit(".", 2)[1:])) for path in AUDITED_SERVICES}
    unlisted = []
    for module, name in sorted(writers):
        if (module, name) in listed:
            continue
        leaf = name.rsplit(".", 1)[-1]
        # A private helper is covered when a listed function of its module calls it (directly
        # or through another private helper).
        callers, seen = {leaf}, set()
        covered = False
        while callers and not covered:
            callee = callers.pop()
            seen.add(callee)
            for (other_module, other_name), calls in functions.items():
                if other_module != module or callee not in calls:
                    continue
                if (other_module, other_name) in listed:
                    covered = True
                    break
                other_leaf = other_name.rsplit(".", 1)[-1]
                if other_leaf.startswith("_") and other_leaf not in seen:
                    callers.add(other_leaf)
        if not (leaf.startswith("_") and covered):
            unlisted.append(f"{module}.{name}")
    assert unlisted == [], "add these to accounts/audited_services.py (and a scenario here)"


def test_every_listed_service_exists():
    for path in AUDITED_SERVICES:
        parts = path.split(".")
        for split in range(len(parts) - 1, 0, -1):
            try:
                target = importlib.import_module(".".join(parts[:split]))
            except ImportError:
                continue
            for attribute in parts[split:]:
                target = getattr(target, attribute)
            assert callable(target), path
            break
        else:
            pytest.fail(f"{path} not found")


# --- Each listed service, called for real ---------------------------------------------------

STAFF = "staff"  # the scenario's actor: the billing agent, through the admin
SCENARIOS = {}


def scenario(path):
    def register(function):
        SCENARIOS[path] = function
        return function

    return register


@pytest.fixture
def world(db, plan, billing_agent, alice, settings):
    settings.CORRECTION_SELF_APPROVE_MAX_DATA_MB = 1000

    class World:
        staff = Actor.staff(billing_agent)
        customer = alice
        as_customer = Actor.customer(alice.user)

    World.plan = plan
    World.line = SimLineFactory(customer=alice, plan=plan, expires_at=timezone.now() + timedelta(days=10))
    return World


def a_renewal(world, key="k"):
    from plans.renewals import renewal_request

    return renewal_request(
        line=world.line,
        plan=world.plan,
        currency="EUR",
        channel="admin",
        idempotency_key=key,
        actor=world.staff,
    )


def a_card_payment(world, stripe_peer, *, pay=True):
    from payments.checkout import payment_refresh, payment_start

    checkout = payment_start(renewal=a_renewal(world, "card"), method="card", actor=world.staff)
    if pay:
        peer_side.customer_pays(stripe_peer.base_url, checkout.payment.stripe_payment_intent_id)
        payment_refresh(checkout.payment, actor=world.staff)
    checkout.payment.refresh_from_db()
    return checkout.payment


@scenario("accounts.customer_login.customer_login_link")
def _(world, request):
    from accounts.customer_login import customer_login_link

    CustomerFactory(email="new.login@example.com")
    login = UserFactory(username="newcomer", email="new.login@example.com")
    actor = Actor.customer(login)
    customer_login_link(user=login, email="NEW.login@example.com", language="fr", actor=actor)
    return actor


@scenario("accounts.details.customer_profile_update")
def _(world, request):
    from accounts.details import customer_profile_update

    customer_profile_update(customer=world.customer, changes={"city": "Lyon"}, actor=world.as_customer)
    return world.as_customer


@scenario("accounts.contact_verification.contact_change_confirm")
def _(world, request):
    import re

    from accounts.contact_verification import contact_change_confirm, contact_change_start

    mailoutbox = request.getfixturevalue("mailoutbox")
    capture = request.getfixturevalue("django_capture_on_commit_callbacks")
    with capture(execute=True):
        contact_change_start(
            customer=world.customer, field="email", value="a2@example.com", actor=world.as_customer
        )
    code = re.search(r"\d{6}", mailoutbox[-1].body).group(0)
    contact_change_confirm(customer=world.customer, field="email", code=code, actor=world.as_customer)
    return world.as_customer


@scenario("accounts.details.details_correct")
def _(world, request):
    from accounts.details import details_correct

    details_correct(
        customer=world.customer, changes={"city": "Nice"}, reason="typo", comment="checked", actor=world.staff
    )
    return world.staff


@scenario("accounts.details.correction_request_create")
def _(world, request):
    from accounts.details import correction_request_create

    correction_request_create(
        customer=world.customer, field="legal_name", value="MARTIN", comment="", actor=world.as_customer
    )
    return world.as_customer


@scenario("accounts.details.correction_request_decide")
def _(world, request):
    from accounts.details import correction_request_create, correction_request_decide

    asked = correction_request_create(
        customer=world.customer, field="legal_name", value="MARTIN", comment="", actor=world.as_customer
    )
    manager = Actor.staff(request.getfixturevalue("manager"))
    correction_request_decide(correction=asked, approve=True, comment="passport seen", actor=manager)
    return manager


@scenario("accounts.line_registration.line_register")
def _(world, request):
    from accounts.identifiers import make_iccid
    from accounts.line_registration import line_register

    line_register(customer=world.customer, iccid=make_iccid(4343), actor=world.staff, reason="sold a SIM")
    return world.staff


@scenario("accounts.line_registration.esim_issue")
def _(world, request):
    from accounts.line_registration import esim_issue

    esim_issue(customer=world.customer, idempotency_key="admin:audit", actor=world.staff, reason="sold")
    return world.staff


@scenario("accounts.corrections.adjustment_request")
def _(world, request):
    from accounts.corrections import adjustment_request

    adjustment_request(line=world.line, reason="goodwill", comment="sorry", actor=world.staff, data_mb=5000)
    return world.staff


@scenario("accounts.corrections.correction_decide")
def _(world, request):
    from accounts.corrections import adjustment_request, correction_decide

    big = adjustment_request(
        line=world.line, reason="goodwill", comment="sorry", actor=world.staff, data_mb=5000
    )
    manager = Actor.staff(request.getfixturevalue("manager"))
    correction_decide(correction=big, approve=True, actor=manager, comment="ok")
    return manager


@scenario("accounts.corrections.correction_reverse")
def _(world, request):
    from accounts.corrections import adjustment_request, correction_reverse

    small = adjustment_request(
        line=world.line, reason="goodwill", comment="sorry", actor=world.staff, data_mb=100
    )
    # The reversal's own entries are what the test looks at, not the adjustment's.
    world.since = AuditEntry.objects.aggregate(last=Max("pk"))["last"]
    correction_reverse(correction=small, actor=world.staff, comment="wrong line")
    return world.staff


@scenario("accounts.corrections.sim_swap")
def _(world, request):
    from accounts.corrections import sim_swap
    from accounts.identifiers import make_iccid

    sim_swap(
        line=world.line,
        reason="lost_or_broken_sim",
        comment="lost",
        actor=world.staff,
        new_iccid=make_iccid(4242),
    )
    return world.staff


@scenario("accounts.corrections.line_move")
def _(world, request):
    from accounts.corrections import line_move

    line_move(
        line=world.line,
        to_customer=CustomerFactory(),
        reason="customer_request",
        comment="sold",
        actor=world.staff,
    )
    return world.staff


@scenario("accounts.corrections.balance_adjustment_apply")
def _(world, request):
    from accounts.corrections import balance_adjustment_apply

    balance_adjustment_apply(
        line=world.line, data_mb=-100, reason="refund", comment="refund #1", actor=world.staff
    )
    return world.staff


@scenario("plans.renewals.renewal_request")
def _(world, request):
    a_renewal(world)
    return world.staff


@scenario("plans.renewals.renewal_mark_paid")
def _(world, request):
    from plans.renewals import renewal_mark_paid

    renewal = a_renewal(world)
    renewal_mark_paid(renewal_id=renewal.pk, actor=world.staff, reason="payment #1 succeeded")
    return world.staff


@scenario("plans.renewals.renewals_start_at_first_use")
def _(world, request):
    from plans.models import Plan
    from plans.renewals import renewal_mark_paid, renewals_start_at_first_use

    Plan.objects.filter(pk=world.plan.pk).update(activation_policy=Plan.ActivationPolicy.FIRST_USE)
    world.line.__class__.objects.filter(pk=world.line.pk).update(expires_at=None)
    renewal = a_renewal(world)
    renewal_mark_paid(renewal_id=renewal.pk, actor=world.staff, reason="paid")
    renewals_start_at_first_use(line_id=world.line.pk, at=timezone.now(), actor=world.staff)
    return world.staff


@scenario("plans.renewals.renewal_cancel")
def _(world, request):
    from plans.renewals import renewal_cancel

    renewal_cancel(renewal=a_renewal(world), actor=world.staff, reason="customer gave up")
    return world.staff


@scenario("plans.activation.renewal_activate")
def _(world, request):
    from plans.activation import SYSTEM, renewal_activate
    from plans.renewals import renewal_mark_paid

    renewal = renewal_mark_paid(renewal_id=a_renewal(world).pk, actor=world.staff, reason="paid")
    renewal_activate(renewal_id=renewal.pk)
    return SYSTEM


@scenario("plans.expiry.lines_expire")
def _(world, request):
    from plans.expiry import SYSTEM, lines_expire

    world.line.__class__.objects.filter(pk=world.line.pk).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    lines_expire()
    return SYSTEM


@scenario("plans.usage_import.usage_import")
def _(world, request):
    from plans.usage_import import HEADER, usage_import

    rows = [",".join(HEADER), f"{world.line.iccid},{timezone.now().isoformat()},1000,0,0,r-1"]
    usage_import(file=io.BytesIO("\n".join(rows).encode()), filename="usage.csv", actor=world.staff)
    return world.staff


@scenario("payments.checkout.payment_start")
def _(world, request):
    a_card_payment(world, request.getfixturevalue("stripe_peer"), pay=False)
    return world.staff


@scenario("payments.checkout.payment_apply_intent")
def _(world, request):
    from payments import stripe_gateway
    from payments.checkout import payment_apply_intent

    stripe_peer = request.getfixturevalue("stripe_peer")
    payment = a_card_payment(world, stripe_peer, pay=False)
    peer_side.customer_pays(stripe_peer.base_url, payment.stripe_payment_intent_id)
    intent = stripe_gateway.payment_intent_retrieve(payment.stripe_payment_intent_id)
    webhook = Actor.system("stripe webhook")
    payment_apply_intent(intent, observed_at=timezone.now(), actor=webhook)
    return webhook


@scenario("payments.manual.payment_record_manual")
def _(world, request):
    from payments.manual import payment_record_manual

    payment_record_manual(
        renewal=a_renewal(world),
        method="cash",
        amount=Decimal("19.90"),
        currency="EUR",
        reference="",
        actor=world.staff,
    )
    return world.staff


def a_wallet_payment(world, request):
    from payments.wallet import wallet_pay_renewal, wallet_top_up
    from plans.renewals import renewal_request

    partner = PartnerFactory()
    line = SimLineFactory(customer=CustomerFactory(partner=partner), plan=world.plan)
    manager = Actor.staff(request.getfixturevalue("manager"))
    wallet_top_up(partner=partner, amount=Decimal("50.00"), currency="EUR", actor=manager, reason="T-1")
    as_partner = Actor.for_partner(partner)
    renewal = renewal_request(
        line=line,
        plan=world.plan,
        currency="EUR",
        channel="partner_api",
        idempotency_key="w",
        actor=as_partner,
    )
    return wallet_pay_renewal(renewal=renewal, actor=as_partner), as_partner


@scenario("payments.wallet.wallet_top_up")
def _(world, request):
    from payments.wallet import wallet_top_up

    manager = Actor.staff(request.getfixturevalue("manager"))
    wallet_top_up(
        partner=PartnerFactory(), amount=Decimal("10.00"), currency="EUR", actor=manager, reason="T-9"
    )
    return manager


@scenario("payments.wallet.wallet_pay_renewal")
def _(world, request):
    _payment, as_partner = a_wallet_payment(world, request)
    return as_partner


@scenario("payments.wallet.wallet_refund_credit")
def _(world, request):
    from payments.refunds import refund_request

    payment, as_partner = a_wallet_payment(world, request)
    world.since = AuditEntry.objects.aggregate(last=Max("pk"))["last"]
    refund_request(
        payment=payment,
        amount=Decimal("1.00"),
        reason="other",
        entitlement="keep",
        actor=as_partner,
        idempotency_key="wallet-refund",
    )
    return as_partner


@scenario("payments.refunds.refund_request")
def _(world, request):
    from payments.refunds import refund_request

    payment = PaymentFactory(renewal__line=world.line, method="cash")
    refund_request(
        payment=payment,
        amount=Decimal("1.00"),
        reason="other",
        entitlement="keep",
        actor=world.staff,
        idempotency_key="r1",
        manual_reference="cash back at the counter",
    )
    return world.staff


@scenario("payments.refunds.refund_submit")
def _(world, request):
    from payments.models import Refund
    from payments.refunds import refund_submit

    request.getfixturevalue("stripe_peer")
    payment = PaymentFactory(
        renewal__line=world.line, method="card", stripe_payment_intent_id="pi_unknown_here"
    )
    refund = Refund.objects.create(
        payment=payment, amount=Decimal("1"), currency=payment.currency, reason="other", idempotency_key="r2"
    )
    with pytest.raises(DomainError):  # Stripe refuses a refund of an intent it does not know
        refund_submit(refund, actor=world.staff)
    return world.staff


@scenario("payments.refunds.refund_apply_provider")
def _(world, request):
    from payments.refunds import refund_request

    payment = a_card_payment(world, request.getfixturevalue("stripe_peer"))
    # Submitted to Stripe after commit; Stripe's answer is applied to our row.
    with request.getfixturevalue("django_capture_on_commit_callbacks")(execute=True):
        refund_request(
            payment=payment,
            amount=Decimal("1.00"),
            reason="customer_request",
            entitlement="keep",
            actor=world.staff,
            idempotency_key="r3",
        )
    return world.staff


@scenario("payments.disputes.dispute_apply")
def _(world, request):
    from payments.disputes import dispute_apply

    PaymentFactory(renewal__line=world.line, method="card", stripe_payment_intent_id="pi_disputed")
    webhook = Actor.system("stripe webhook")
    dispute_apply(
        {
            "id": "dp_1",
            "payment_intent": "pi_disputed",
            "status": "needs_response",
            "amount": 1990,
            "currency": "eur",
            "reason": "fraudulent",
            "created": int(timezone.now().timestamp()),
        },
        actor=webhook,
    )
    return webhook


@scenario("payments.saved_methods.saved_method_from_setup_intent")
def _(world, request):
    from payments.saved_methods import saved_method_from_setup_intent, saved_method_setup_start

    stripe_peer = request.getfixturevalue("stripe_peer")
    setup = saved_method_setup_start(customer=world.customer, actor=world.as_customer, attempt_key="s1")
    peer_side.customer_saves_card(stripe_peer.base_url, setup.setup_intent_id)
    saved_method_from_setup_intent(setup.setup_intent_id, actor=world.as_customer)
    return world.as_customer


def a_saved_card(world, stripe_peer):
    from payments.saved_methods import saved_method_from_setup_intent, saved_method_setup_start

    setup = saved_method_setup_start(customer=world.customer, actor=world.as_customer, attempt_key="s2")
    peer_side.customer_saves_card(stripe_peer.base_url, setup.setup_intent_id)
    return saved_method_from_setup_intent(setup.setup_intent_id, actor=world.as_customer)


@scenario("payments.saved_methods.saved_method_remove")
def _(world, request):
    from payments.saved_methods import saved_method_remove

    saved = a_saved_card(world, request.getfixturevalue("stripe_peer"))
    saved_method_remove(customer=world.customer, method_id=saved.pk, actor=world.as_customer)
    return world.as_customer


@scenario("payments.autorenew.line_auto_renew_set")
def _(world, request):
    from payments.autorenew import line_auto_renew_set

    saved = a_saved_card(world, request.getfixturevalue("stripe_peer"))
    line_auto_renew_set(
        line=world.line,
        enabled=True,
        plan=world.plan,
        method=saved,
        actor=world.as_customer,
        reason="customer's choice",
    )
    return world.as_customer


@scenario("payments.autorenew.renewal_charge_off_session")
def _(world, request):
    from payments.autorenew import renewal_charge_off_session

    saved = a_saved_card(world, request.getfixturevalue("stripe_peer"))
    auto = Actor.system("auto-renew")
    renewal_charge_off_session(renewal=a_renewal(world), method=saved, actor=auto)
    return auto


def a_case(world):
    return FailedPaymentCaseFactory(renewal__line=world.line, renewal__plan=world.plan)


@scenario("payments.dunning.case_record_failure")
def _(world, request):
    from payments.dunning import case_record_failure

    renewal = RenewalFactory(
        line=world.line,
        plan=world.plan,
        status=Renewal.Status.FAILED,
        paid_at=None,
        period_start=None,
        period_end=None,
    )
    payment = PaymentFactory(
        renewal=renewal, status="failed", paid_at=None, receipt_number=None, decline_code="insufficient_funds"
    )
    auto = Actor.system("auto-renew")
    case_record_failure(payment=payment, actor=auto)
    return auto


@scenario("payments.dunning.case_note_declined_attempt")
def _(world, request):
    from payments.dunning import case_note_declined_attempt

    case = a_case(world)
    declined = PaymentFactory(
        renewal=case.renewal, status="failed", paid_at=None, receipt_number=None, decline_code="do_not_honor"
    )
    case_note_declined_attempt(payment=declined, actor=world.as_customer)
    return world.as_customer


@scenario("payments.dunning.cases_recover")
def _(world, request):
    from payments.dunning import SYSTEM, cases_recover

    case = a_case(world)
    cases_recover(renewal_id=case.renewal_id)
    return SYSTEM


@scenario("payments.dunning.case_write_off")
def _(world, request):
    from payments.dunning import case_write_off

    case_write_off(case=a_case(world), actor=world.staff, note="customer left France")
    return world.staff


@scenario("payments.dunning.case_cancel")
def _(world, request):
    from payments.dunning import case_cancel

    case_cancel(case=a_case(world), actor=world.staff, note="customer does not want it")
    return world.staff


@scenario("payments.followup.case_payment_link_send")
def _(world, request):
    from payments.followup import case_payment_link_send

    case_payment_link_send(case=a_case(world), actor=world.staff)
    return world.staff


@scenario("payments.followup.case_note_add")
def _(world, request):
    from payments.followup import case_note_add

    case_note_add(case=a_case(world), text="called, no answer", actor=world.staff)
    return world.staff


@scenario("payments.followup.case_contact_record")
def _(world, request):
    from payments.followup import case_contact_record

    case_contact_record(case=a_case(world), outcome="will_pay", note="pays tonight", actor=world.staff)
    return world.staff


@scenario("payments.dunning.grace_end_run")
def _(world, request):
    from payments.dunning import SYSTEM, grace_end_run

    world.line.__class__.objects.filter(pk=world.line.pk).update(auto_renew=True, auto_renew_plan=world.plan)
    case = a_case(world)
    case.__class__.objects.filter(pk=case.pk).update(grace_ends_at=timezone.now() - timedelta(minutes=1))
    grace_end_run()
    return SYSTEM


@scenario("accounts.customers.customer_create")
def _(world, request):
    from accounts.customers import customer_create

    partner = Actor.for_partner(request.getfixturevalue("partner_a"))
    customer_create(
        actor=partner, partner=partner.partner, fields={"full_name": "Zhang Wei", "email": "zw@example.com"}
    )
    return partner


@scenario("api.keys.api_key_issue")
def _(world, request):
    from api.keys import api_key_issue

    manager = Actor.staff(request.getfixturevalue("manager"))
    api_key_issue(name="agency key", actor=manager, partner=request.getfixturevalue("partner_a"))
    return manager


@scenario("api.keys.api_key_revoke")
def _(world, request):
    from api.keys import api_key_issue, api_key_revoke

    manager = Actor.staff(request.getfixturevalue("manager"))
    issued = api_key_issue(name="agency key", actor=manager, partner=request.getfixturevalue("partner_a"))
    api_key_revoke(key=issued.key, actor=manager, reason="leaked in a screenshot")
    return manager


@scenario("webhooks.endpoints.webhook_endpoint_create")
def _(world, request):
    from webhooks.endpoints import webhook_endpoint_create

    manager = Actor.staff(request.getfixturevalue("manager"))
    webhook_endpoint_create(
        partner=request.getfixturevalue("partner_a"),
        url="https://agency.example.com/hooks",
        event_types=["line.renewed"],
        actor=manager,
    )
    return manager


@scenario("webhooks.endpoints.webhook_endpoint_rotate_secret")
def _(world, request):
    from webhooks.endpoints import webhook_endpoint_create, webhook_endpoint_rotate_secret

    manager = Actor.staff(request.getfixturevalue("manager"))
    issued = webhook_endpoint_create(
        partner=request.getfixturevalue("partner_a"),
        url="https://agency.example.com/hooks",
        event_types=["line.renewed"],
        actor=manager,
    )
    webhook_endpoint_rotate_secret(
        endpoint=issued.endpoint, actor=manager, reason="secret pasted in a ticket"
    )
    return manager


@scenario("webhooks.delivery.webhook_delivery_resend")
def _(world, request):
    from webhooks.delivery import webhook_delivery_resend
    from webhooks.endpoints import webhook_endpoint_create
    from webhooks.outbox import webhook_event_emit

    manager = Actor.staff(request.getfixturevalue("manager"))
    partner = request.getfixturevalue("partner_a")
    webhook_endpoint_create(
        partner=partner, url="https://agency.example.com/hooks", event_types=["refund.failed"], actor=manager
    )
    event = webhook_event_emit(partner=partner, event_type="refund.failed", data={"refund": {"id": 1}})
    webhook_delivery_resend(delivery=event.deliveries.get(), actor=manager, reason="partner asked again")
    return manager


def admin_request(user, data=None):
    request = RequestFactory().post("/admin/", data or {})
    request.user = user
    return request


@scenario("reseller.admin_tools.AuditedAdmin.save_model")
def _(world, request):
    manager = request.getfixturevalue("manager")
    partner = PartnerFactory()
    model_admin = admin.site._registry[Partner]
    post = admin_request(manager)
    form_class = model_admin.get_form(post, partner, change=True)
    form = form_class(
        {
            "name": "Agency renamed",
            "code": partner.code,
            "status": "active",
            "default_currency": "EUR",
            "contact_email": "",
            "change_reason": "typo",
            "change_comment": "new brand name",
        },
        instance=partner,
    )
    assert form.is_valid(), form.errors
    model_admin.save_model(post, form.save(commit=False), form, True)
    return Actor.staff(manager)


@scenario("reseller.admin_tools.AuditedAdmin.save_formset")
def _(world, request):
    from plans.models import Plan

    manager = request.getfixturevalue("manager")
    price = Price.objects.filter(plan=world.plan).first() or PriceFactory(plan=world.plan)
    model_admin = admin.site._registry[Plan]
    post = admin_request(manager)
    form_class = model_admin.get_form(post, world.plan, change=True)
    form = form_class(instance=world.plan)
    form.cleaned_data = {"change_reason": "other", "change_comment": "December prices"}
    formset_class = model_admin.get_formsets_with_inlines(post, world.plan).__next__()[0]
    data = {
        "prices-TOTAL_FORMS": "1",
        "prices-INITIAL_FORMS": "1",
        "prices-MIN_NUM_FORMS": "0",
        "prices-MAX_NUM_FORMS": "1000",
        "prices-0-id": str(price.pk),
        "prices-0-plan": str(world.plan.pk),
        "prices-0-channel": price.channel,
        "prices-0-currency": price.currency,
        "prices-0-amount": "99.00",
    }
    formset = formset_class(data, instance=world.plan, prefix="prices")
    assert formset.is_valid(), formset.errors
    model_admin.save_formset(post, form, formset, True)
    return Actor.staff(manager)


@scenario("reseller.admin_tools.AuditedAdmin.delete_model")
def _(world, request):
    manager = request.getfixturevalue("manager")
    model_admin = admin.site._registry[Partner]
    model_admin.delete_model(admin_request(manager), PartnerFactory())
    return Actor.staff(manager)


@scenario("reseller.admin_tools.AuditedAdmin.delete_queryset")
def _(world, request):
    manager = request.getfixturevalue("manager")
    model_admin = admin.site._registry[Partner]
    partner = PartnerFactory()
    model_admin.delete_queryset(admin_request(manager), Partner.objects.filter(pk=partner.pk))
    return Actor.staff(manager)


def test_every_listed_service_has_a_scenario_here():
    assert sorted(set(AUDITED_SERVICES) - set(SCENARIOS)) == []


@pytest.mark.parametrize("path", sorted(AUDITED_SERVICES))
def test_each_service_writes_an_audit_entry_naming_its_actor_and_a_reason(world, request, path):
    world.since = AuditEntry.objects.aggregate(last=Max("pk"))["last"] or 0
    actor = SCENARIOS[path](world, request)
    entries = AuditEntry.objects.filter(pk__gt=world.since, action=AUDITED_SERVICES[path])
    assert entries.exists(), f"{path} wrote no {AUDITED_SERVICES[path]} entry"
    for entry in entries:
        assert entry.reason.strip(), f"{path}: {entry.action} has no reason"
        assert entry.actor_kind == actor.kind
        assert entry.channel == actor.channel
        assert entry.actor_label == actor.label
        if actor.user is not None:
            assert entry.actor_user_id == actor.user.pk
        if actor.kind == "system":
            assert entry.actor_label and entry.channel == Channel.SYSTEM
        assert entry.content_type_id is not None or entry.action.endswith(".deleted")
