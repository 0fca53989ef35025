"""The demo's set-up: agency and logins, OAuth installs over HTTP, an API key that works."""

import pytest

from tenants.demo import (
    DEMO_LOGINS,
    demo_agency_ensure,
)
from tenants.models import Membership

pytestmark = pytest.mark.django_db(transaction=True)


def test_demo_agency_has_its_logins_and_is_created_once():
    agency = demo_agency_ensure()
    again = demo_agency_ensure()
    assert again.pk == agency.pk
    roles = dict(Membership.objects.filter(agency=agency).values_list("user__username", "role"))
    assert roles == {login.username: login.role for login in DEMO_LOGINS}
    for login in DEMO_LOGINS:
        membership = Membership.objects.get(agency=agency, user__username=login.username)
        assert membership.user.check_password(login.password)
