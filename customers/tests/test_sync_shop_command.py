"""sync_shop answers bad input and Shopify failures with a clear CommandError."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from customers.models import Customer, SyncRun
from customers.tests.sandbox_compare import shop_for

pytestmark = pytest.mark.django_db


def test_batch_size_below_one_is_refused(sandbox_store):
    shop = shop_for(sandbox_store)
    with pytest.raises(CommandError, match="--batch-size must be between 1 and"):
        call_command("sync_shop", shop.domain, "--full", "--batch-size", "0")
    assert not Customer.all_shops.filter(shop=shop).exists()


def test_a_rejected_token_is_a_command_error_not_a_traceback(sandbox_store):
    shop = shop_for(sandbox_store)
    shop.access_token = "shpat_not_a_token_of_this_store"
    shop.save(update_fields=["access_token"])
    with pytest.raises(CommandError, match="failed talking to Shopify"):
        call_command("sync_shop", shop.domain, "--full")
    assert not Customer.all_shops.filter(shop=shop).exists()


def _synced_once(sandbox_store):
    """A shop with a successful full sync: sync_shop without --full runs a delta."""
    from customers.sync import shop_full_sync

    shop = shop_for(sandbox_store)
    sandbox_store.create_customer({"firstName": "Ada", "email": "ada@example.com"})
    shop_full_sync(shop_id=shop.id, parallel=False)
    return shop


@pytest.mark.django_db(transaction=True)  # a second loader sees committed rows only
@pytest.mark.parametrize(
    "flags", [["--one-loader"], ["--second-loader"], ["--batch-size", "2"]], ids=str
)
def test_full_sync_options_on_a_delta_are_refused(sandbox_store, flags):
    shop = _synced_once(sandbox_store)
    sandbox_store.create_customer({"firstName": "New", "email": "new@example.com"})
    runs = set(SyncRun.all_shops.filter(shop=shop).values_list("id", flat=True))
    with pytest.raises(CommandError, match=f"{flags[0]} applies to a full sync only.*--full"):
        call_command("sync_shop", shop.domain, *flags, stdout=StringIO())
    assert set(SyncRun.all_shops.filter(shop=shop).values_list("id", flat=True)) == runs
    assert not Customer.all_shops.filter(shop=shop, first_name="New").exists()
    # With --full they are a full sync's, honoured.
    call_command("sync_shop", shop.domain, "--full", *flags, stdout=StringIO())
    run = SyncRun.all_shops.filter(shop=shop).latest("id")
    assert (run.kind, run.status) == ("full", "succeeded")
    if flags[0] != "--batch-size":  # the two loaders' load is timed as one step, "load"
        assert ("load" in run.checkpoint["seconds"]) is (flags[0] == "--second-loader")
    assert Customer.all_shops.filter(shop=shop, first_name="New").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--batch-size", "1000000000"], "--batch-size must be between 1 and"),
        (["--batch-size", "-3"], "--batch-size must be between 1 and"),
    ],
)
def test_batch_size_out_of_range_is_refused(sandbox_store, args, message):
    shop = shop_for(sandbox_store)
    with pytest.raises(CommandError, match=message):
        call_command("sync_shop", shop.domain, "--full", *args)
    assert not SyncRun.all_shops.filter(shop=shop).exists()


@pytest.mark.parametrize(
    ("domain", "message"),
    [
        ("not a domain", "'not a domain' is not a shop domain; expected your-store.myshopify.com"),
        ("nobody.myshopify.com", "no shop nobody.myshopify.com is known"),
    ],
)
def test_a_bad_or_unknown_domain_is_refused_clearly(domain, message):
    with pytest.raises(CommandError, match=message):
        call_command("sync_shop", domain, "--full")
    assert not SyncRun.all_shops.exists()


def test_an_uppercase_domain_finds_its_shop(sandbox_store):
    shop = shop_for(sandbox_store)
    call_command("sync_shop", shop.domain.upper(), "--full", "--one-loader", stdout=StringIO())
    assert SyncRun.all_shops.get(shop=shop).status == SyncRun.Status.SUCCEEDED


@pytest.mark.django_db(transaction=True)
def test_a_shop_erased_during_the_sync_is_a_command_error(sandbox_store, monkeypatch):
    from customers import staging
    from customers.tests.test_sync_erased import erase

    shop = shop_for(sandbox_store)
    sandbox_store.create_customer({"firstName": "Ada", "email": "ada@example.com"})
    real_settings = staging.apply_settings

    def erased_then_settings():
        erase(shop.id)
        real_settings()

    monkeypatch.setattr(staging, "apply_settings", erased_then_settings)
    with pytest.raises(CommandError, match="erased"):
        call_command("sync_shop", shop.domain, "--full", "--one-loader", stdout=StringIO())
