"""A reviewer works the duplicate queue in real headless Chromium: list, waterfall, dismissal."""

import pytest

from merges.models import DismissedPair, DuplicateCandidate
from merges.services import duplicates_find
from merges.tests.stores import load_generated
from tenants.roles import Role
from tenants.tests.factories import agency_factory, membership_factory, shop_factory, user_factory
from tenants.tests.test_install_browser import browser_page  # noqa: F401 (fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_reviewer_reads_the_waterfall_and_dismisses(live_server, browser_page):  # noqa: F811
    agency = agency_factory(name="Review Agency")
    shop = shop_factory(agency=agency, country_code="DE")
    load_generated(shop, count=300, seed=81)
    duplicates_find(shop_id=shop.id, full=True)
    user = user_factory(username="reviewer", password="pw-for-tests-1")
    membership_factory(agency=agency, user=user, role=Role.REVIEWER)
    candidate = DuplicateCandidate.all_shops.filter(shop=shop, status="open").order_by(
        "-probability", "-pk"
    )[0]
    edge = candidate.explanation["edges"][0]
    email_row = next(row for row in edge["rows"] if row["field"] == "email")

    page = browser_page
    page.goto(live_server.url + "/duplicates/")
    page.fill("#id_username", "reviewer")
    page.fill("#id_password", "pw-for-tests-1")
    page.click("button[type=submit]")
    row = page.locator(f"tr[data-candidate='{candidate.pk}']")
    row.wait_for()
    assert shop.domain in row.inner_text()
    row.locator("a").click()

    waterfall = page.locator(f"section[data-edge='{edge['customers'][0]}-{edge['customers'][1]}']")
    waterfall.wait_for()
    email = waterfall.locator("tr[data-field='email']").inner_text()
    assert email_row["level"] in email
    if email_row["left"]:
        assert email_row["left"] in email
    assert waterfall.locator("tr[data-field='prior']").is_visible()

    page.fill("#id_reason", "   ")  # blank after trimming: refused, nothing stored
    page.click("#dismiss-form button[type=submit]")
    page.locator("#reason-error").wait_for()
    assert DuplicateCandidate.all_shops.get(pk=candidate.pk).status == "open"

    page.fill("#id_reason", "Sisters sharing a phone")
    page.click("#dismiss-form button[type=submit]")
    page.locator("text=dismissed; its pairs are remembered").wait_for()
    assert page.locator(f"tr[data-candidate='{candidate.pk}']").count() == 0
    dismissed = DuplicateCandidate.all_shops.get(pk=candidate.pk)
    assert dismissed.status == "dismissed" and dismissed.status_reason == "Sisters sharing a phone"
    assert DismissedPair.all_shops.filter(candidate=candidate).exists()
