"""The usage file upload page and the import reports in the admin: who may import, what a bad
file shows, and that the reports render."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.models import AuditEntry
from plans import admin as plans_admin
from plans.models import Usage, UsageImport
from plans.usage_import import usage_import
from reseller.actors import Actor
from tests.auth.second_factor import login_staff
from tests.factories import SimLineFactory

UPLOAD_URL = reverse("admin:plans_usage_import")
HEADER = "iccid,recorded_at,data_bytes,voice_minutes,sms,record_id"


def csv_upload(*lines: str, header: str = HEADER, name: str = "usage.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, "\n".join([header, *lines, ""]).encode(), content_type="text/csv")


@pytest.fixture
def line(db):
    return SimLineFactory()


@pytest.mark.parametrize("role", ["billing_agent", "manager"])
def test_staff_allowed_to_import_upload_a_file_and_see_the_report(client, request, line, role):
    user = request.getfixturevalue(role)
    login_staff(client, user)
    changelist = client.get(reverse("admin:plans_usage_changelist"))
    assert UPLOAD_URL in changelist.content.decode()
    assert client.get(UPLOAD_URL).status_code == 200

    response = client.post(
        UPLOAD_URL,
        {
            "file": csv_upload(
                f"{line.iccid},2026-11-23T08:15:00Z,1500000,3,1,cdr-1",
                f"{line.iccid},2026-11-23T09:15:00Z,-1,0,0,cdr-2",
            )
        },
        follow=True,
    )

    report = UsageImport.objects.get()
    assert response.redirect_chain == [(reverse("admin:plans_usageimport_change", args=[report.pk]), 302)]
    assert (report.rows_applied, report.rows_rejected, report.imported_by) == (1, 1, user)
    page = response.content.decode()
    assert "Imported usage.csv. Applied: 1, already imported: 0, rejected: 1." in page
    assert "<td>3</td><td>data_bytes must be a whole number, 0 or more: “-1”.</td>" in page
    assert Usage.objects.filter(line=line).count() == 1
    assert AuditEntry.objects.get().action == "usage.imported"


def test_support_agent_gets_403_on_the_upload_page_and_no_import_button(client, support_agent, line):
    login_staff(client, support_agent)

    assert client.get(UPLOAD_URL).status_code == 403
    upload = csv_upload(f"{line.iccid},2026-11-23T08:15:00Z,1,0,0,cdr-1")
    assert client.post(UPLOAD_URL, {"file": upload}).status_code == 403
    changelist = client.get(reverse("admin:plans_usage_changelist"))
    assert changelist.status_code == 200
    assert UPLOAD_URL not in changelist.content.decode()
    assert (Usage.objects.count(), UsageImport.objects.count()) == (0, 0)


def test_the_upload_page_needs_a_staff_login(client, db):
    response = client.get(UPLOAD_URL)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (
            csv_upload("8933,2026-11-23T08:15:00Z,1,0,0,cdr-1", header="iccid,time,bytes"),
            "The first line must be the header iccid,recorded_at,data_bytes,voice_minutes,sms,record_id",
        ),
        (
            SimpleUploadedFile("usage.csv", HEADER.encode() + b"\n8933,caf\xe9,1,0,0,x\n"),
            "The file is not UTF-8 text",
        ),
        (SimpleUploadedFile("usage.csv", b""), "The submitted file is empty."),
        (
            csv_upload("8933,2026-11-23T08:15:00Z,1,0,0,cdr-1", name="usage.xlsx"),
            "extension “xlsx” is not allowed",
        ),
    ],
    ids=["wrong-header", "not-utf8", "empty", "not-csv"],
)
def test_a_bad_file_shows_a_form_error_and_imports_nothing(client, billing_agent, upload, message):
    login_staff(client, billing_agent)

    response = client.post(UPLOAD_URL, {"file": upload})

    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors["file"])
    assert (Usage.objects.count(), UsageImport.objects.count(), AuditEntry.objects.count()) == (0, 0, 0)


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(client, billing_agent, line, monkeypatch):
    monkeypatch.setattr(plans_admin, "MAX_USAGE_FILE_BYTES", 100)
    login_staff(client, billing_agent)
    rows = [f"{line.iccid},2026-11-23T08:15:00Z,1,0,0,cdr-{n}" for n in range(5)]

    response = client.post(UPLOAD_URL, {"file": csv_upload(*rows)})

    assert response.status_code == 200
    assert response.context["form"].errors["file"] == [
        "The file is larger than 50 MB: import it in several parts."
    ]
    assert Usage.objects.count() == 0


def test_posting_no_file_shows_a_form_error(client, billing_agent):
    login_staff(client, billing_agent)

    response = client.post(UPLOAD_URL, {})

    assert response.status_code == 200
    assert response.context["form"].errors["file"] == ["This field is required."]


@pytest.fixture
def report(line):
    rows = [f"{line.iccid},2026-11-23T08:15:00Z,1,0,0,cdr-{n}" for n in range(3)]
    rows += ["8933000000000000000,2026-11-23T08:15:00Z,1,0,0,cdr-x"]
    return usage_import(
        file=csv_upload(*rows, name="usage-2026-11-23.csv"),
        filename="usage-2026-11-23.csv",
        actor=Actor.system("tests"),
    )


@pytest.mark.parametrize("role", ["support_agent", "billing_agent", "manager"])
def test_the_import_list_and_report_pages_render(client, request, report, role):
    login_staff(client, request.getfixturevalue(role))

    listing = client.get(reverse("admin:plans_usageimport_changelist"))
    detail = client.get(reverse("admin:plans_usageimport_change", args=[report.pk]))

    assert listing.status_code == detail.status_code == 200
    assert "usage-2026-11-23.csv" in listing.content.decode()
    page = detail.content.decode()
    assert "<td>5</td><td>No line has the ICCID 8933000000000000000.</td>" in page
    assert report.sha256 in page


def test_nobody_adds_changes_or_deletes_a_report_in_the_admin(client, manager, report):
    login_staff(client, manager)

    assert client.get(reverse("admin:plans_usageimport_add")).status_code == 403
    assert client.post(reverse("admin:plans_usageimport_delete", args=[report.pk])).status_code == 403
    response = client.post(reverse("admin:plans_usageimport_change", args=[report.pk]), {"filename": "x"})
    assert response.status_code == 403
    assert UsageImport.objects.get().filename == "usage-2026-11-23.csv"


def test_a_report_with_more_rejected_rows_than_listed_says_so(client, manager, report):
    UsageImport.objects.filter(pk=report.pk).update(
        rows_total=1_503, rows_rejected=1_500, errors_truncated=True
    )
    login_staff(client, manager)

    response = client.get(reverse("admin:plans_usageimport_change", args=[report.pk]))

    assert "Only the first 1 of 1500 rejected rows are listed." in response.content.decode()
