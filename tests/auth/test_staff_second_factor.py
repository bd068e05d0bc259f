"""A staff account without a second factor reaches no admin page, by any route (sign-in by
password or code, the admin's own login, password reset, allauth's pages); one with an
authenticator app reaches the admin only after a valid TOTP or recovery code in that session."""

import re
import time

import pytest
import time_machine
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import SECRET_SESSION_KEY, format_hotp_value, hotp_value
from django.contrib import admin
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import URLResolver, reverse

from accounts.roles import MANAGER
from tests.admin.conftest import make_rows
from tests.auth.pages import (
    PASSWORD,
    link_in_mail,
    sign_in,
    sign_in_by_code,
    signed_in_user_id,
)
from tests.auth.second_factor import (
    login_staff,
    recovery_codes,
    start_of_a_time_step,
    totp_code,
    verified_email,
)
from tests.factories import UserFactory

ADMIN_LOGIN = "/admin/login/"


@pytest.fixture
def rows(db):
    make_rows(1)


@pytest.fixture
def newcomer(db):
    """A Manager (nearly every admin permission) who has not set up an authenticator app."""
    user = UserFactory(username="newcomer", is_staff=True)
    user.groups.add(Group.objects.get(name=MANAGER))
    verified_email(user)
    return user


@pytest.fixture
def on_time_step():
    """TOTP codes computed by the test are still current when it posts them."""
    with time_machine.travel(start_of_a_time_step(), tick=True):
        yield


def _concrete(route: str, object_id: str) -> str:
    return re.sub(r"<(?:\w+:)?(\w+)>", lambda m: object_id if m.group(1) == "object_id" else "1", route)


def admin_paths() -> list[str]:
    """Every URL of the admin site: its own views, each model's views (with an object that
    exists, where there is one), each app's index and the catch-all."""
    paths = []
    for pattern in admin.site.get_urls():
        route = str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            continue  # the model admins, below
        if "(?P<app_label>" in route:
            labels = {model._meta.app_label for model in admin.site._registry}
            paths += [f"/admin/{label}/" for label in sorted(labels)]
        elif "(?P<url>" in route:
            paths.append("/admin/no-such-page/")
        else:
            paths.append("/admin/" + _concrete(route, "1"))
    for model, model_admin in admin.site._registry.items():
        first = model._default_manager.order_by("pk").first()
        object_id = str(first.pk) if first else "1"
        prefix = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        for pattern in model_admin.get_urls():
            paths.append(prefix + _concrete(str(pattern.pattern), object_id))
    return sorted(set(paths))


def _kept_out(path: str, response) -> bool:
    """A redirect to the admin's login step; from that step, out of the admin (to sign-in or
    to the missing second factor); from logout, back to the index (which redirects again)."""
    if response.status_code != 302:
        return False
    location = response["Location"]
    if path == ADMIN_LOGIN:
        return not location.startswith("/admin/")
    if path == "/admin/logout/":
        return location == "/admin/"
    return location.startswith(ADMIN_LOGIN)


def assert_no_admin_page(client):
    """GET and POST on every admin URL answer a redirect that keeps out of the admin, never a
    page, a file or a change."""
    paths = admin_paths()
    assert len(paths) > 100  # the walk found the model admins' URLs too
    reached = []
    for path in paths:
        for method in (client.get, client.post):
            response = method(path)
            if not _kept_out(path, response):
                reached.append((method.__name__, path, response.status_code))
    assert reached == []


# --- Staff without an authenticator app -----------------------------------------------------


def test_signing_in_by_password_sends_a_newcomer_to_set_up_the_app_and_to_no_admin_page(
    client, newcomer, rows
):
    response = sign_in(client, "newcomer", next_url="/admin/")

    assert signed_in_user_id(client) == str(newcomer.pk)
    assert response["Location"] == "/admin/"
    assert client.get("/admin/")["Location"].startswith(ADMIN_LOGIN)
    assert client.get(ADMIN_LOGIN)["Location"] == reverse("mfa_activate_totp")
    assert_no_admin_page(client)


def test_without_a_next_page_staff_land_on_the_app_setup(client, newcomer):
    assert sign_in(client, "newcomer@example.com")["Location"] == reverse("mfa_activate_totp")


def test_signing_in_by_e_mailed_code_reaches_no_admin_page(client, newcomer, rows):
    response = sign_in_by_code(client, newcomer.email)

    assert signed_in_user_id(client) == str(newcomer.pk)
    assert response["Location"] == reverse("mfa_activate_totp")
    assert_no_admin_page(client)


def test_the_admins_own_login_form_signs_nobody_in(client, newcomer):
    page = client.get(ADMIN_LOGIN)
    posted = client.post(ADMIN_LOGIN, {"username": "newcomer", "password": PASSWORD, "next": "/admin/"})

    assert page["Location"] == f"{reverse('account_login')}?next=/admin/"
    assert posted.status_code == 302 and posted["Location"].startswith(reverse("account_login"))
    assert signed_in_user_id(client) is None


def test_a_password_reset_opens_no_session_and_the_new_password_leads_to_the_app_setup(
    client, newcomer, rows
):
    client.post(reverse("account_reset_password"), {"email": newcomer.email})
    link = link_in_mail(newcomer.email, "/account/password/reset/key/")
    form = client.get(link, follow=True)
    set_url = form.redirect_chain[-1][0] if form.redirect_chain else link
    client.post(set_url, {"password1": "a new staff pass phrase", "password2": "a new staff pass phrase"})

    assert signed_in_user_id(client) is None
    assert_no_admin_page(client)
    assert sign_in(client, "newcomer", "a new staff pass phrase")["Location"] == reverse("mfa_activate_totp")
    assert_no_admin_page(client)


def test_confirming_the_password_again_on_allauths_pages_is_no_second_factor(client, newcomer, rows):
    sign_in(client, "newcomer")

    reauthenticated = client.post(
        reverse("account_reauthenticate"), {"password": PASSWORD, "next": "/admin/"}
    )
    mfa_page = client.get(reverse("mfa_reauthenticate"))

    assert reauthenticated.status_code == 302
    assert mfa_page.status_code in (302, 403)
    assert_no_admin_page(client)


def confirm_password(client):
    """allauth asks for the password again before an authenticator is added."""
    setup = client.get(reverse("mfa_activate_totp"))
    assert setup["Location"].startswith(reverse("account_reauthenticate"))
    client.post(setup["Location"], {"password": PASSWORD})


@pytest.mark.django_db(transaction=True, serialized_rollback=True)  # allauth announces the app on commit
def test_setting_up_the_app_is_the_second_factor_of_that_session(client, newcomer, on_time_step):
    sign_in(client, "newcomer")
    confirm_password(client)
    assert client.get(reverse("mfa_activate_totp")).status_code == 200
    secret = client.session[SECRET_SESSION_KEY]
    code = format_hotp_value(hotp_value(secret, int(time.time()) // 30))  # what the app shows

    activated = client.post(reverse("mfa_activate_totp"), {"code": code})

    assert activated.status_code == 302
    assert Authenticator.objects.filter(user=newcomer, type=Authenticator.Type.TOTP).count() == 1
    assert client.get("/admin/").status_code == 200


def test_a_wrong_code_at_setup_sets_up_nothing_and_opens_nothing(client, newcomer):
    sign_in(client, "newcomer")
    confirm_password(client)
    client.get(reverse("mfa_activate_totp"))

    response = client.post(reverse("mfa_activate_totp"), {"code": "000000"})

    assert response.status_code == 200
    assert not Authenticator.objects.filter(user=newcomer).exists()
    assert client.get("/admin/")["Location"].startswith(ADMIN_LOGIN)


# --- Staff with an authenticator app --------------------------------------------------------


def test_with_the_app_set_up_a_password_alone_opens_no_session(client, manager, rows):
    response = sign_in(client, "manager", next_url="/admin/")

    assert response["Location"] == reverse("mfa_authenticate")
    assert signed_in_user_id(client) is None
    assert_no_admin_page(client)


def test_a_valid_totp_code_after_the_password_opens_the_admin(client, manager, on_time_step):
    sign_in(client, "manager", next_url="/admin/")

    response = client.post(reverse("mfa_authenticate"), {"code": totp_code(manager)})

    assert response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_the_e_mailed_code_is_no_second_factor_either(client, manager, on_time_step):
    response = sign_in_by_code(client, manager.email, next_url="/admin/")

    assert response["Location"] == reverse("mfa_authenticate")
    assert client.get("/admin/")["Location"].startswith(ADMIN_LOGIN)
    client.post(reverse("mfa_authenticate"), {"code": totp_code(manager)})
    assert client.get("/admin/").status_code == 200


def test_a_wrong_totp_code_opens_nothing_and_is_logged(client, manager, caplog):
    sign_in(client, "manager", next_url="/admin/")

    response = client.post(reverse("mfa_authenticate"), {"code": "000000"})

    assert response.status_code == 200
    assert signed_in_user_id(client) is None
    assert client.get("/admin/")["Location"].startswith(ADMIN_LOGIN)
    assert "sign-in failed: wrong second-factor code; login='manager' ip=127.0.0.1" in caplog.text


def test_a_recovery_code_opens_the_admin_once(client, manager):
    code = recovery_codes(manager)[0]
    sign_in(client, "manager", next_url="/admin/")

    client.post(reverse("mfa_authenticate"), {"code": code})

    assert client.get("/admin/").status_code == 200
    assert code not in recovery_codes(manager)


def test_a_session_that_skipped_the_second_factor_is_asked_for_a_code_before_the_admin(
    client, manager, on_time_step
):
    client.force_login(manager)  # signed in, but this session never passed the second factor

    assert client.get("/admin/")["Location"].startswith(ADMIN_LOGIN)
    step = client.get(f"{ADMIN_LOGIN}?next=/admin/payments/payment/")
    assert step["Location"] == f"{reverse('mfa_reauthenticate')}?next=%2Fadmin%2Fpayments%2Fpayment%2F"

    entered = client.post(step["Location"], {"code": totp_code(manager)})

    assert entered["Location"] == "/admin/payments/payment/"
    assert client.get("/admin/").status_code == 200


def test_with_the_second_factor_the_same_walk_opens_admin_pages(client, manager, rows):
    login_staff(client, manager)

    opened = [path for path in admin_paths() if client.get(path).status_code == 200]

    assert "/admin/" in opened and "/admin/accounts/customer/" in opened
    assert client.get(ADMIN_LOGIN)["Location"] == "/admin/"


def test_staff_cannot_remove_their_authenticator_app(client, manager):
    login_staff(client, manager)

    client.post(reverse("mfa_deactivate_totp"))

    assert Authenticator.objects.filter(user=manager, type=Authenticator.Type.TOTP).count() == 1


def test_removing_a_staff_members_app_closes_the_admin_to_their_session(client, manager):
    login_staff(client, manager)
    assert client.get("/admin/").status_code == 200

    Authenticator.objects.filter(user=manager).delete()

    assert client.get("/admin/")["Location"].startswith(ADMIN_LOGIN)


def test_an_inactive_staff_member_reaches_nothing_even_with_a_second_factor(client, manager):
    login_staff(client, manager)
    manager.is_active = False
    manager.save()

    assert client.get("/admin/").status_code == 302


def test_a_customer_signed_in_is_refused_the_admin(client, alice):
    client.force_login(alice.user)

    assert client.get("/admin/")["Location"].startswith(ADMIN_LOGIN)
    assert client.get(ADMIN_LOGIN).status_code == 403


def test_the_admin_login_ignores_a_next_page_off_the_site(client, manager):
    login_staff(client, manager)

    assert client.get(f"{ADMIN_LOGIN}?next=https://evil.example/")["Location"] == "/admin/"


# --- The demo's relaxed setting ---------------------------------------------------------------


def test_where_the_demo_relaxes_it_staff_reach_the_admin_with_a_password_and_the_page_says_so(
    client, newcomer, settings
):
    settings.STAFF_REQUIRE_SECOND_FACTOR = False

    page = client.get(reverse("account_login")).content.decode()
    sign_in(client, "newcomer")

    assert 'id="second-factor-off"' in page
    assert client.get("/admin/").status_code == 200


def test_by_default_the_sign_in_page_says_nothing_about_a_relaxed_rule(client, db):
    assert 'id="second-factor-off"' not in client.get(reverse("account_login")).content.decode()


def test_staff_personas_have_their_app_and_the_test_helper_signs_them_in_past_it(
    manager, support_agent, billing_agent
):
    for user in (manager, support_agent, billing_agent):
        assert Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).count() == 1
        browser = Client()
        assert browser.get("/admin/").status_code == 302
        login_staff(browser, user)
        assert browser.get("/admin/").status_code == 200


def test_a_staff_account_without_a_verified_e_mail_is_sent_the_link_and_reaches_nothing(client, rows):
    user = UserFactory(username="unverified", is_staff=True)
    user.groups.add(Group.objects.get(name=MANAGER))

    response = sign_in(client, "unverified", next_url="/admin/")

    assert response["Location"] == reverse("account_email_verification_sent")
    assert link_in_mail(user.email, "/account/confirm-email/")
    assert signed_in_user_id(client) is None
    assert_no_admin_page(client)
