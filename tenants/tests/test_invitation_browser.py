"""An invitee opens their accept link in real headless Chromium and joins the agency."""

import pytest

from tenants.actors import Actor
from tenants.models import Membership
from tenants.roles import Role
from tenants.services import membership_invite
from tenants.tests.factories import agency_factory, user_factory
from tenants.tests.test_install_browser import browser_page  # noqa: F401 (fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_existing_user_logs_in_from_the_link_and_accepts(live_server, browser_page):  # noqa: F811
    agency = agency_factory(name="Inviting Agency")
    user = user_factory(username="invitee", password="pw-for-tests-1")
    _, path = membership_invite(agency=agency, email=user.email, role=Role.EDITOR, actor=Actor())

    page = browser_page
    page.goto(live_server.url + path)
    assert "Join Inviting Agency" in page.content()
    page.click("#login")
    page.fill("#id_username", "invitee")
    page.fill("#id_password", "pw-for-tests-1")
    page.click("button[type=submit]")
    page.click("#accept")  # back on the accept page, now logged in
    page.wait_for_selector("text=Inviting Agency")
    assert Membership.objects.get(agency=agency, user=user).role == Role.EDITOR
    page.goto(live_server.url + path)
    assert "unknown, already used or expired" in page.locator("#invitation-error").inner_text()


def test_a_newcomer_signs_up_from_the_link(live_server, browser_page):  # noqa: F811
    agency = agency_factory(name="Welcoming Agency")
    _, path = membership_invite(
        agency=agency, email="fresh@example.com", role=Role.VIEWER, actor=Actor()
    )
    page = browser_page
    page.goto(live_server.url + path)
    page.fill("#id_username", "fresh")
    page.fill("#id_password1", "a-long-pass-1")
    page.fill("#id_password2", "a-long-pass-1")
    page.click("#sign-up")
    page.wait_for_selector("text=Welcoming Agency")
    membership = Membership.objects.get(agency=agency, user__username="fresh")
    assert membership.user.email == "fresh@example.com" and membership.role == Role.VIEWER
