"""The example client in docs/api.md, run as written against a live server: what partners
copy works."""

import re
from decimal import Decimal
from pathlib import Path

import pytest

from payments.wallet import wallet_top_up
from plans.models import Renewal
from reseller.actors import Actor
from tests.api.conftest import issue
from tests.factories import CustomerFactory, SimLineFactory

DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def _example_client_source() -> str:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    [client] = [block for block in blocks if "class ResellerApi" in block]
    return client


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_documented_client_lists_creates_renews_and_reads_problems(
    live_server, partner_a, plan, compiled_catalogues
):
    line = SimLineFactory(customer=CustomerFactory(partner=partner_a), plan=plan)
    wallet_top_up(
        partner=partner_a, amount=Decimal("20.00"), currency="EUR", actor=Actor.system("tests"), reason="T-1"
    )
    namespace: dict = {"__name__": "example_client"}
    exec(compile(_example_client_source(), str(DOC), "exec"), namespace)  # noqa: S102 — our own doc
    api = namespace["ResellerApi"](
        base=f"{live_server.url}/api/v1", key=issue(partner=partner_a), language="fr"
    )

    assert [p["code"] for p in api.plans()] == ["eu-30d-20gb"]
    customer = api.create_customer(full_name="Li Wei", email="li.wei@example.com")
    assert customer["partner"] == "agence-a"
    renewal = api.renew(line.pk, "eu-30d-20gb")
    assert renewal["status"] == "paid"  # from the partner's wallet
    assert Renewal.objects.get().pk == renewal["id"]
    assert [item["id"] for item in api.pages("/lines/", status="active", page_size=1)] == [line.pk]
    with pytest.raises(namespace["ApiError"]) as refused:
        api.renew(line.pk, "no-such-plan")
    assert refused.value.problem["code"] == "unknown_plan"
    assert refused.value.problem["detail"] != "There is no plan with this code."  # in French
