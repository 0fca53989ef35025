from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from tenants.models import ApiKey
from tenants.services import api_key_authenticate
from tenants.tests.factories import agency_factory

pytestmark = pytest.mark.django_db


def test_command_prints_a_working_key_once():
    agency = agency_factory()
    out, err = StringIO(), StringIO()
    call_command(
        "api_key_create",
        "--agency",
        agency.slug,
        "--name",
        "etl",
        "--scope",
        "write",
        "--expires-in-days",
        "30",
        stdout=out,
        stderr=err,
    )
    plain = out.getvalue().strip()
    api_key = api_key_authenticate(raw_key=plain)
    assert (api_key.agency, api_key.name, api_key.scope) == (agency, "etl", "write")
    assert api_key.expires_at is not None
    assert plain not in err.getvalue() and api_key.prefix in err.getvalue()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--agency", "nope", "--name", "x"], "No agency has the slug 'nope'"),
        (["--name", "  "], "A key needs a name"),
        (["--name", "x", "--expires-in-days", "0"], "at least 1"),
        (["--name", "x", "--expires-in-days", "100000000"], "at most 3650"),
        (["--name", "n" * 101], "at most 100 characters"),
    ],
)
def test_command_rejects_bad_input_and_stores_nothing(args, message):
    agency = agency_factory()
    if "--agency" not in args:
        args = ["--agency", agency.slug, *args]
    with pytest.raises(CommandError, match=message):
        call_command("api_key_create", *args, stdout=StringIO(), stderr=StringIO())
    assert not ApiKey.objects.exists()
