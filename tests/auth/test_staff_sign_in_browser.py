"""A new staff member in a real browser (Debian's Chromium driven by Playwright): the admin
sends them to the sign-in page, then to set up an authenticator app, and opens only once the
app's code is typed. Pages are saved as screenshots in test-artifacts/screenshots/."""

import time
from pathlib import Path

import pytest
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value
from django.contrib.auth.models import Group

from accounts.roles import SUPPORT
from tests.auth.pages import PASSWORD
from tests.auth.second_factor import verified_email
from tests.browser import serving_django
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


@pytest.fixture
def site(settings):
    settings.ALLOWED_HOSTS = ["127.0.0.1"]
    # The browser types the code a moment after the test computes it: accept the previous
    # time step too, as an authenticator app's user gets in practice.
    settings.MFA_TOTP_TOLERANCE = 1
    with serving_django() as url:
        yield url


def shot(page, name):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def test_a_new_staff_member_sets_up_the_app_and_only_then_reaches_the_admin(site, browser):
    user = UserFactory(username="newcomer", is_staff=True)
    user.groups.add(Group.objects.get(name=SUPPORT))
    verified_email(user)

    def sign_in(chromium):
        context = chromium.new_context(locale="en-GB", viewport={"width": 390, "height": 844})
        context.set_default_timeout(20_000)
        page = context.new_page()
        page.goto(f"{site}/admin/")
        page.wait_for_url(lambda url: "/account/login/" in url)
        shot(page, "staff-01-sign-in")
        page.get_by_label("Login").fill("newcomer")
        page.get_by_label("Password").fill(PASSWORD)
        page.locator("main form button[type=submit]").click()
        # allauth asks for the password again before an authenticator is added
        page.wait_for_url(lambda url: "/account/reauthenticate/" in url)
        page.get_by_label("Password").fill(PASSWORD)
        page.locator("main form button[type=submit]").click()
        page.wait_for_url(lambda url: url.endswith("/2fa/totp/activate/"))
        return page

    page = browser.run(sign_in)

    def try_the_admin(_):
        page.goto(f"{site}/admin/accounts/customer/")
        shot(page, "staff-02-set-up-the-app")
        # each visit of the setup page shows a new secret: the one the app would scan now
        return page.url, page.locator("#authenticator_secret").input_value()

    url, secret = browser.run(try_the_admin)
    assert url.endswith("/account/2fa/totp/activate/")

    code = format_hotp_value(hotp_value(secret, int(time.time()) // 30))  # what the app shows

    def activate_and_go_to_the_back_office(_):
        page.get_by_label("Authenticator code").fill(code)
        page.locator("main form button[type=submit]").click()
        page.wait_for_url(lambda url: url.endswith("/2fa/recovery-codes/"))
        shot(page, "staff-03-recovery-codes")
        page.get_by_role("link", name="Back office").click()
        page.wait_for_url(f"{site}/admin/")
        shot(page, "staff-04-admin")
        return page.locator("#site-name").inner_text()

    assert "SIM reseller back office" in browser.run(activate_and_go_to_the_back_office)
