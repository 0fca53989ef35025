"""Duplicate detection state kept per shop."""

from django.db import models

from tenants.scoping import ShopOwnedModel


class BlockingKey(ShopOwnedModel):
    """One exact blocking key of one customer (merges.detection.blocking).

    Customers sharing a key are compared; a key shared by too many customers (a placeholder email,
    the store's own phone) is skipped when pairs are read, not when keys are written, so adding one
    customer never has to rewrite other customers' rows. The full scan and the incremental lookup
    read this same table. Rows hold normalised personal data: the privacy eraser deletes them.
    """

    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="+")
    key_type = models.CharField(max_length=16)
    key_value = models.CharField(max_length=400)

    class Meta:
        indexes = [
            models.Index(fields=["shop", "key_type", "key_value"], name="blockingkey_lookup"),
            models.Index(fields=["shop", "customer"], name="blockingkey_customer"),
        ]

    def __str__(self) -> str:
        return f"{self.key_type} key of customer {self.customer_id}"
