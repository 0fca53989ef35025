"""sync_shop answers bad input and Shopify failures with a clear CommandError."""

import pytest
from django.core.management import CommandError, call_command

from customers.models import Customer
from customers.tests.sandbox_compare import shop_for

pytestmark = pytest.mark.django_db


def test_batch_size_below_one_is_refused(sandbox_store):
    shop = shop_for(sandbox_store)
    with pytest.raises(CommandError, match="--batch-size must be at least 1"):
        call_command("sync_shop", shop.domain, "--full", "--batch-size", "0")
    assert not Customer.all_shops.filter(shop=shop).exists()


def test_a_rejected_token_is_a_command_error_not_a_traceback(sandbox_store):
    shop = shop_for(sandbox_store)
    shop.access_token = "shpat_not_a_token_of_this_store"
    shop.save(update_fields=["access_token"])
    with pytest.raises(CommandError, match="failed talking to Shopify"):
        call_command("sync_shop", shop.domain, "--full")
    assert not Customer.all_shops.filter(shop=shop).exists()
