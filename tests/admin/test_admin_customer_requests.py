"""Staff answer customers' correction requests from the correction's page: approve or reject,
always with a comment the customer reads; the ledger row itself is never edited."""

from django.urls import reverse

from accounts.details import correction_request_create
from accounts.models import Correction, Customer
from reseller.actors import Actor
from tests.auth.second_factor import login_staff


def ask(customer, value="MARTIN Alice"):
    return correction_request_create(
        customer=customer,
        field="legal_name",
        value=value,
        comment="as on my passport",
        actor=Actor.customer(customer.user),
    )


def test_support_approves_a_customers_request_with_a_comment(
    client, alice, support_agent, mailoutbox, django_capture_on_commit_callbacks
):
    request = ask(alice)
    login_staff(client, support_agent)
    page = client.get(reverse("admin:accounts_correction_change", args=[request.pk])).content.decode()
    assert "MARTIN Alice" in page
    decide = reverse("admin:accounts_correction_decide", args=[request.pk])
    assert decide in page
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(decide, {"decision": "approve", "comment": "Passport seen at the shop."})
    assert response.status_code == 302
    assert Customer.objects.get(pk=alice.pk).legal_name == "MARTIN Alice"
    assert Correction.objects.get(pk=request.pk).status == "applied"
    assert "Passport seen at the shop." in mailoutbox[0].body


def test_a_decision_without_a_comment_is_refused_with_a_message_and_changes_nothing(
    client, alice, support_agent
):
    request = ask(alice)
    login_staff(client, support_agent)
    response = client.post(
        reverse("admin:accounts_correction_decide", args=[request.pk]), {"decision": "reject", "comment": ""}
    )
    assert response.status_code == 200
    assert response.context["form"].non_field_errors()
    assert Correction.objects.get(pk=request.pk).status == "requested"


def test_corrections_are_not_added_or_edited_in_the_admin(client, alice, manager):
    request = ask(alice)
    login_staff(client, manager)
    assert client.get(reverse("admin:accounts_correction_add")).status_code == 403
    client.post(
        reverse("admin:accounts_correction_change", args=[request.pk]),
        {"after": '{"legal_name": "SOMEONE ELSE"}', "status": "applied"},
    )
    assert Correction.objects.get(pk=request.pk).after == {"legal_name": "MARTIN Alice"}


def test_the_work_queue_counts_customer_requests(client, alice, support_agent):
    ask(alice)
    login_staff(client, support_agent)
    queues = {
        queue["label"]: queue["count"] for queue in client.get(reverse("admin:index")).context["work_queues"]
    }
    assert queues["Correction requests to decide"] == 1
