"""POST /api/v1/lines/: a partner registers a physical SIM or issues an eSIM for one of its own
customers (another partner's answers 404), with the write scope; staff tokens need the role's
``accounts.add_simline`` (Managers). Bad fields answer a validation problem naming them;
a repeat with the same Idempotency-Key gives the same line; a carrier that does not answer
is a 503 that leaves nothing behind.

Also here, the two API rules next to it: the 402 of a short wallet has its own problem type
with the balance and the price, and a staff token's renewal of a partner's customer's line is
the reseller's sale at the retail price (admin channel), never paid from the partner's wallet."""

from decimal import Decimal

import pytest

from accounts.identifiers import make_iccid, make_msisdn
from accounts.models import AuditEntry, SimLine
from api.models import IdempotencyRecord
from carrier.models import SandboxEsimProfile, SandboxFault
from carrier.sandbox import sandbox_fail_next
from payments.models import PartnerWallet, Payment, WalletEntry
from payments.wallet import wallet_top_up
from plans.models import Renewal
from reseller.actors import Actor
from reseller.validators import luhn_is_valid
from tests.api.conftest import ApiClient, assert_problem, issue

pytestmark = pytest.mark.django_db

ICCID = make_iccid(8801)
LINES = "/api/v1/lines/"


def test_a_partner_registers_a_physical_sim_for_its_customer(api_a, customer_a, partner_a):
    response = api_a.post(
        LINES, {"customer": customer_a.pk, "kind": "physical", "iccid": ICCID, "msisdn": "+33612345678"}
    )
    assert response.status_code == 201, response.content
    body = response.json()
    line = SimLine.objects.get()
    assert response["Location"] == f"/api/v1/lines/{line.pk}/"
    assert (body["id"], body["iccid"], body["msisdn"], body["kind"]) == (
        line.pk,
        ICCID,
        "+33612345678",
        "physical",
    )
    assert (body["status"], body["plan"], body["esim"]) == ("inactive", None, None)
    entry = AuditEntry.objects.get(action="line.registered")
    assert (entry.actor_kind, entry.actor_partner, entry.channel) == ("partner", partner_a, "api")


def test_a_partner_issues_an_esim_and_gets_its_install_data(api_a, customer_a):
    response = api_a.post(LINES, {"customer": customer_a.pk, "kind": "esim"})
    assert response.status_code == 201, response.content
    body = response.json()
    line = SimLine.objects.get()
    assert (body["kind"], body["status"], body["msisdn"]) == ("esim", "inactive", None)
    assert body["iccid"] == line.iccid and luhn_is_valid(line.iccid)
    esim = body["esim"]
    assert esim["activation_code"] == line.activation_code
    assert esim["activation_code"].startswith("LPA:1$smdp.sandbox-carrier.example$")
    assert esim["qr_png_url"] == f"/api/v1/lines/{line.pk}/esim-qr.png"
    qr = api_a.get(esim["qr_svg_url"])
    assert (qr.status_code, qr["Content-Type"]) == (200, "image/svg+xml")


def test_the_same_key_again_replays_the_same_esim_without_a_second_order(api_a, customer_a):
    body = {"customer": customer_a.pk, "kind": "esim"}
    first = api_a.post(LINES, body, key="esim-1")
    again = api_a.post(LINES, body, key="esim-1")
    assert again["Idempotent-Replayed"] == "true" and again.json() == first.json()
    assert SimLine.objects.count() == 1 and SandboxEsimProfile.objects.count() == 1


def test_the_same_key_after_its_answer_was_forgotten_still_finds_the_same_esim(api_a, customer_a):
    body = {"customer": customer_a.pk, "kind": "esim"}
    first = api_a.post(LINES, body, key="esim-1").json()
    IdempotencyRecord.objects.all().delete()  # the answer's retention ran out
    again = api_a.post(LINES, body, key="esim-1")
    assert again.status_code == 201 and again.json()["id"] == first["id"]
    assert SimLine.objects.count() == 1 and SandboxEsimProfile.objects.count() == 1


def test_two_partners_using_the_same_key_get_two_esims(api_a, api_b, customer_a, customer_b):
    a = api_a.post(LINES, {"customer": customer_a.pk, "kind": "esim"}, key="k").json()
    b = api_b.post(LINES, {"customer": customer_b.pk, "kind": "esim"}, key="k").json()
    assert a["iccid"] != b["iccid"] and SimLine.objects.count() == 2


def test_a_carrier_that_does_not_answer_is_a_503_and_a_retry_gets_the_esim(api_a, customer_a):
    sandbox_fail_next("esim_order")
    body = {"customer": customer_a.pk, "kind": "esim"}
    assert_problem(api_a.post(LINES, body, key="esim-2"), 503, "carrier_unavailable")
    assert not SimLine.objects.exists() and not AuditEntry.objects.filter(action="line.esim_issued").exists()
    SandboxFault.objects.all().delete()  # the network is back
    retry = api_a.post(LINES, body, key="esim-2")
    assert retry.status_code == 201, retry.content
    assert SimLine.objects.count() == 1


def test_another_partners_customer_answers_404_and_nothing_is_ordered(api_b, customer_a):
    for body in (
        {"customer": customer_a.pk, "kind": "esim"},
        {"customer": customer_a.pk, "kind": "physical", "iccid": ICCID},
    ):
        assert_problem(api_b.post(LINES, body), 404, "customer_not_found")
    assert not SimLine.objects.exists() and not SandboxEsimProfile.objects.exists()


def test_a_read_only_key_cannot_register(api_a_read_only, customer_a):
    assert_problem(
        api_a_read_only.post(LINES, {"customer": customer_a.pk, "kind": "esim"}), 403, "scope_missing"
    )
    assert not SimLine.objects.exists()


@pytest.mark.parametrize(
    ("client", "status"), [("api_support", 403), ("api_billing", 403), ("api_manager", 201)]
)
def test_staff_tokens_register_lines_with_a_managers_role_only(request, client, status, customer_a):
    response = request.getfixturevalue(client).post(
        LINES, {"customer": customer_a.pk, "kind": "physical", "iccid": ICCID}
    )
    assert response.status_code == status, response.content
    assert SimLine.objects.count() == (1 if status == 201 else 0)
    if status == 403:
        assert response.json()["code"] == "role_forbidden"
    else:
        entry = AuditEntry.objects.get(action="line.registered")
        assert (entry.actor_kind, entry.actor_user, entry.channel) == (
            "staff",
            request.getfixturevalue("manager"),
            "api",
        )


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        (
            {"kind": "physical", "iccid": ICCID[:-1] + "0" if ICCID[-1] != "0" else ICCID[:-1] + "1"},
            {"iccid"},
        ),
        ({"kind": "physical"}, {"iccid"}),
        ({"kind": "physical", "iccid": ICCID, "msisdn": "0612345678"}, {"msisdn"}),
        ({"kind": "esim", "iccid": ICCID}, {"iccid"}),
        ({"kind": "satellite"}, {"kind"}),
    ],
)
def test_bad_fields_answer_a_validation_problem_naming_them(api_a, customer_a, body, fields):
    response = api_a.post(LINES, {"customer": customer_a.pk, **body})
    problem = assert_problem(response, 400, "invalid")
    assert {error["field"] for error in problem["errors"]} == fields
    assert not SimLine.objects.exists() and not SandboxEsimProfile.objects.exists()


def test_an_iccid_already_registered_is_a_validation_problem(api_a, api_b, customer_a, customer_b):
    assert (
        api_a.post(LINES, {"customer": customer_a.pk, "kind": "physical", "iccid": ICCID}).status_code == 201
    )
    response = api_b.post(LINES, {"customer": customer_b.pk, "kind": "physical", "iccid": ICCID})
    problem = assert_problem(response, 400, "invalid")
    assert [error["field"] for error in problem["errors"]] == ["iccid"]
    assert SimLine.objects.get().customer == customer_a


def test_a_number_already_in_use_is_a_validation_problem(api_a, customer_a, line_a):
    response = api_a.post(
        LINES, {"customer": customer_a.pk, "kind": "physical", "iccid": ICCID, "msisdn": line_a.msisdn}
    )
    assert [e["field"] for e in assert_problem(response, 400, "invalid")["errors"]] == ["msisdn"]
    assert SimLine.objects.count() == 1


def test_a_new_number_and_spaced_iccid_are_kept_normalised(api_a, customer_a):
    spaced = " ".join(ICCID[i : i + 4] for i in range(0, 20, 4))
    response = api_a.post(
        LINES, {"customer": customer_a.pk, "kind": "physical", "iccid": spaced, "msisdn": make_msisdn(77)}
    )
    assert response.status_code == 201, response.content
    assert response.json()["iccid"] == ICCID


# --- The 402 of a short wallet --------------------------------------------------------------------


def _top_up(partner, amount):
    wallet_top_up(
        partner=partner, amount=Decimal(amount), currency="EUR", actor=Actor.system("tests"), reason="T"
    )


def test_a_short_wallet_answers_the_insufficient_funds_problem_with_balance_and_price(
    api_a, partner_a, line_a
):
    _top_up(partner_a, "10.00")
    response = api_a.post("/api/v1/renewals/", {"line": line_a.pk, "plan": "eu-30d-20gb"})
    body = assert_problem(response, 402, "insufficient_funds")
    assert body["type"] == "/api/v1/problems/insufficient-funds"
    assert body["title"] == "Insufficient funds"
    assert body["balance"] == {"amount": "10.00", "currency": "EUR"}
    assert body["price"] == {"amount": "15.00", "currency": "EUR"}
    assert not Renewal.objects.exists() and not Payment.objects.exists()


def test_a_partner_without_a_wallet_gets_the_same_type_without_a_balance(api_a, line_a):
    body = assert_problem(
        api_a.post("/api/v1/renewals/", {"line": line_a.pk, "plan": "eu-30d-20gb"}), 402, "no_wallet"
    )
    assert body["type"] == "/api/v1/problems/insufficient-funds"
    assert (body["balance"], body["price"]) == (None, {"amount": "15.00", "currency": "EUR"})


def test_the_insufficient_funds_type_is_described_and_in_the_renewal_schema():
    described = ApiClient().get("/api/v1/problems/insufficient-funds")
    assert described.status_code == 200
    assert described.json()["status"] == 402
    schema = ApiClient().get("/api/v1/schema/", {"format": "json"}).json()
    answer = schema["paths"]["/api/v1/renewals/"]["post"]["responses"]["402"]["content"][
        "application/problem+json"
    ]
    example = next(iter(answer["examples"].values()))["value"]
    assert (example["type"], example["code"]) == ("/api/v1/problems/insufficient-funds", "insufficient_funds")
    component = answer["schema"]["$ref"].rsplit("/", 1)[-1]
    assert {"balance", "price"} <= set(schema["components"]["schemas"][component]["properties"])


# --- Staff renewals ---------------------------------------------------------------------------------


def test_a_staff_renewal_of_a_partners_customer_is_a_retail_sale_and_leaves_the_wallet_alone(
    api_billing, partner_a, line_a
):
    _top_up(partner_a, "50.00")
    response = api_billing.post("/api/v1/renewals/", {"line": line_a.pk, "plan": "eu-30d-20gb"})
    assert response.status_code == 201, response.content
    renewal = Renewal.objects.get()
    assert (renewal.channel, renewal.status, renewal.price_amount, renewal.currency) == (
        "admin",
        "pending_payment",
        Decimal("19.900"),
        "EUR",
    )
    assert not Payment.objects.exists()
    assert PartnerWallet.objects.get(partner=partner_a).balance == Decimal("50.00")
    assert WalletEntry.objects.filter(kind="renewal_debit").count() == 0


def test_staff_without_the_renewal_permission_cannot_renew(api_support, line_a):
    response = api_support.post("/api/v1/renewals/", {"line": line_a.pk, "plan": "eu-30d-20gb"})
    assert_problem(response, 403, "role_forbidden")
    assert not Renewal.objects.exists()


def test_a_renewal_key_of_one_staff_user_is_not_anothers(billing_agent, manager, line_a):
    body = {"line": line_a.pk, "plan": "eu-30d-20gb"}
    first = ApiClient(issue(user=billing_agent)).post("/api/v1/renewals/", body, key="same")
    second = ApiClient(issue(user=manager)).post("/api/v1/renewals/", body, key="same")
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] != second.json()["id"]
