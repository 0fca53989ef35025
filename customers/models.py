"""The mirror of each shop's customers and orders, and the record of every sync.

Design notes:
- Rows are written in bulk by `customers.ingest` (COPY + INSERT ... ON CONFLICT), so nothing here
  relies on save(), auto_now or signals.
- Tags are a JSON list (as Shopify orders them) plus `tags_normalized`, a comma-delimited lowercase
  text (",vip,newsletter,"). An ArrayField would tie the schema to PostgreSQL and break the SQLite
  demo; a tag table would triple the rows written by a full sync. The `has_tag` lookup
  (customers.lookups) is `LIKE '%,vip,%'` on SQLite and an array containment on PostgreSQL,
  answered by a GIN index over `string_to_array(tags_normalized, ',')` (migration 0009).
- The mirror tables (customers, addresses, orders) carry no database foreign-key constraints
  (`db_constraint=False`): a full sync writes millions of rows and PostgreSQL's per-row FK checks
  cost more than the insert itself (measured: 60k orders, insert 4.8 s + 1.9 s of deferred FK
  checks at commit). Only the sync and webhook writers create these rows, always with ids they
  just resolved; Django's `on_delete` still cascades / sets null when rows are deleted.
- Nothing has a database FK constraint towards the mirror either (segments, merges, exports and
  invites reference customers with `db_constraint=False`): deleting customers probed every
  referencing table per row, and the tables below are partitioned. On PostgreSQL customers,
  addresses and orders are LIST-partitioned by shop (migration 0011, customers.partitions): a
  shop's first full sync builds its partitions bare and attaches them; the database primary key
  is (id, shop_id) while Django keeps `id` (unique across shops: one sequence).
- Out-of-order safety rests on `updated_at_shopify`: a change older than what the row holds is
  ignored. `deleted_at` rows are tombstones, kept so a late update cannot resurrect them.
"""

from django.db import models

from tenants.scoping import ShopOwnedModel


class CustomerState(models.TextChoices):
    DISABLED = "DISABLED", "Disabled"
    INVITED = "INVITED", "Invited"
    ENABLED = "ENABLED", "Enabled"
    DECLINED = "DECLINED", "Declined"


class ShopPartitioned:
    """Mixin of the models whose table is partitioned by shop (PostgreSQL): `save()` of a row
    names its shop. Django's UPDATE of an instance filters on the primary key alone, which on
    a partitioned table locks every shop's partition (the default one included, which a first
    sync holds against writes): with the shop it touches one."""

    def _do_update(self, base_qs, using, pk_val, values, update_fields, forced_update):
        base_qs = base_qs.filter(shop_id=self.shop_id)
        return super()._do_update(base_qs, using, pk_val, values, update_fields, forced_update)


class Customer(ShopPartitioned, ShopOwnedModel):
    # No database FK constraint (see the module docstring); Django still cascades on delete.
    # No index of its own: every composite index below leads with shop_id.
    shop = models.ForeignKey(
        "tenants.Shop",
        on_delete=models.CASCADE,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    shopify_id = models.BigIntegerField()
    gid = models.CharField(max_length=64)

    first_name = models.CharField(max_length=255, blank=True, default="")
    last_name = models.CharField(max_length=255, blank=True, default="")
    email = models.CharField(max_length=320, blank=True, default="")
    phone = models.CharField(max_length=64, blank=True, default="")
    state = models.CharField(
        max_length=8, choices=CustomerState.choices, default=CustomerState.DISABLED
    )
    tags = models.JSONField(default=list, blank=True)
    tags_normalized = models.TextField(blank=True, default="")
    note = models.TextField(blank=True, default="")
    verified_email = models.BooleanField(default=False)
    tax_exempt = models.BooleanField(default=False)
    locale = models.CharField(max_length=16, blank=True, default="")

    # Aggregates: Shopify's own when it gives them (they also cover orders the app cannot read),
    # otherwise derived from the mirrored orders (`aggregates_from_shopify` False).
    number_of_orders = models.IntegerField(default=0)
    amount_spent = models.DecimalField(max_digits=20, decimal_places=4, default=0)
    amount_spent_currency = models.CharField(max_length=3, blank=True, default="")
    aggregates_from_shopify = models.BooleanField(default=False)
    first_order_at = models.DateTimeField(null=True, blank=True)
    last_order_at = models.DateTimeField(null=True, blank=True)
    last_abandoned_checkout_at = models.DateTimeField(null=True, blank=True)

    created_at_shopify = models.DateTimeField(null=True, blank=True)
    updated_at_shopify = models.DateTimeField(null=True, blank=True)

    email_marketing_state = models.CharField(max_length=16, blank=True, default="")
    email_marketing_opt_in_level = models.CharField(max_length=24, blank=True, default="")
    email_marketing_updated_at = models.DateTimeField(null=True, blank=True)
    sms_marketing_state = models.CharField(max_length=16, blank=True, default="")
    sms_marketing_opt_in_level = models.CharField(max_length=24, blank=True, default="")
    sms_marketing_updated_at = models.DateTimeField(null=True, blank=True)

    default_address_city = models.CharField(max_length=255, blank=True, default="")
    default_address_province_code = models.CharField(max_length=16, blank=True, default="")
    default_address_country_code = models.CharField(max_length=2, blank=True, default="")
    default_address_zip = models.CharField(max_length=32, blank=True, default="")

    predicted_spend_tier = models.CharField(max_length=8, blank=True, default="")
    # From Customer.mergeable: null = not known yet.
    is_mergeable = models.BooleanField(null=True, blank=True)
    merge_blockers = models.JSONField(default=list, blank=True)

    # Matching keys (customers.normalize). Duplicate detection reads them into its own
    # blocking-key table (merges.BlockingKey), which is what matching looks up.
    email_normalized = models.CharField(max_length=320, blank=True, default="")
    phone_e164 = models.CharField(max_length=20, blank=True, default="")
    first_name_key = models.CharField(max_length=255, blank=True, default="")
    last_name_key = models.CharField(max_length=255, blank=True, default="")
    postcode_normalized = models.CharField(max_length=32, blank=True, default="")

    deleted_at = models.DateTimeField(null=True, blank=True)
    merged_into = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
        db_index=False,  # a partial index below: almost every row holds NULL here
    )
    redacted_at = models.DateTimeField(null=True, blank=True)

    # The full sync that last saw this customer; customers a finished full sync did not see are
    # marked deleted. A plain id (not a FK) keeps the bulk upsert to one table.
    last_seen_sync_run_id = models.BigIntegerField(null=True, blank=True)
    mirrored_at = models.DateTimeField(null=True, blank=True)

    # Indexes of the mirror (customers migration 0012, docs/benchmarks.md "Fifth pass"): only
    # those a query reads (the matching keys are read from merges' blocking-key table; the
    # account state, four values, by scanning). shop_id leads each of them, as the issue and
    # ARCHITECTURE.md ask (customers migration 0013 put it back first after 0012 moved it
    # last: ~4 CPU-s of a 1M first sync's index builds, not worth departing from the rule).
    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "shopify_id"], name="customer_unique_shopify_id"
            )
        ]
        indexes = [
            models.Index(fields=["shop", "updated_at_shopify"], name="customer_updated"),
            models.Index(
                fields=["merged_into"],
                condition=models.Q(merged_into__isnull=False),
                name="customer_merged_into",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.gid} ({self.shop_id})"

    @property
    def is_active(self) -> bool:
        return self.deleted_at is None and self.merged_into_id is None


class CustomerAddress(ShopPartitioned, ShopOwnedModel):
    # No database FK constraint (see the module docstring); Django still cascades on delete.
    # No index of its own: addresses are looked up by customer (the FK's index).
    shop = models.ForeignKey(
        "tenants.Shop",
        on_delete=models.CASCADE,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="addresses", db_constraint=False
    )
    shopify_id = models.BigIntegerField()
    is_default = models.BooleanField(default=False)
    first_name = models.CharField(max_length=255, blank=True, default="")
    last_name = models.CharField(max_length=255, blank=True, default="")
    company = models.CharField(max_length=255, blank=True, default="")
    address1 = models.CharField(max_length=255, blank=True, default="")
    address2 = models.CharField(max_length=255, blank=True, default="")
    city = models.CharField(max_length=255, blank=True, default="")
    province_code = models.CharField(max_length=16, blank=True, default="")
    country_code = models.CharField(max_length=2, blank=True, default="")
    zip = models.CharField(max_length=32, blank=True, default="")
    phone = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        # Indexed by customer_id alone (the FK's own index): every lookup names the customer.
        indexes = []

    def __str__(self) -> str:
        return f"address {self.shopify_id} of customer {self.customer_id}"


class Order(ShopPartitioned, ShopOwnedModel):
    # No database FK constraint (see the module docstring); Django still cascades on delete.
    # No index of its own: every composite index below leads with shop_id.
    shop = models.ForeignKey(
        "tenants.Shop",
        on_delete=models.CASCADE,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    shopify_id = models.BigIntegerField()
    customer = models.ForeignKey(
        Customer,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="orders",
        db_constraint=False,
        db_index=False,  # order_customer below (shop, customer, ...) serves every lookup
    )
    # Kept so an order that arrives before its customer is linked when the customer lands.
    customer_shopify_id = models.BigIntegerField(null=True, blank=True)
    name = models.CharField(max_length=64, blank=True, default="")
    created_at_shopify = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    updated_at_shopify = models.DateTimeField(null=True, blank=True)
    total_price = models.DecimalField(max_digits=20, decimal_places=4, default=0)
    currency = models.CharField(max_length=3, blank=True, default="")
    financial_status = models.CharField(max_length=32, blank=True, default="")
    cancelled_at = models.DateTimeField(null=True, blank=True)
    # Test orders do not count in Shopify's numberOfOrders/amountSpent, nor in ours.
    is_test = models.BooleanField(default=False)
    # Line items reduced to what segment functions need.
    product_ids = models.JSONField(default=list, blank=True)
    product_tags = models.JSONField(default=list, blank=True)
    product_tags_normalized = models.TextField(blank=True, default="")
    deleted_at = models.DateTimeField(null=True, blank=True)
    last_seen_sync_run_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shop", "shopify_id"], name="order_unique_shopify_id")
        ]
        indexes = [
            models.Index(fields=["shop", "customer", "processed_at"], name="order_customer"),
            models.Index(fields=["shop", "customer_shopify_id"], name="order_customer_shopify"),
        ]

    def __str__(self) -> str:
        return f"order {self.shopify_id} ({self.shop_id})"

    @property
    def counts_for_aggregates(self) -> bool:
        return self.deleted_at is None and self.cancelled_at is None and not self.is_test


class SyncRun(ShopOwnedModel):
    class Kind(models.TextChoices):
        FULL = "full", "Full"
        DELTA = "delta", "Delta"
        RECONCILE = "reconcile", "Reconcile"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    phase = models.CharField(max_length=32, blank=True, default="")
    requested_by = models.CharField(max_length=64, blank=True, default="")
    records_read = models.BigIntegerField(default=0)
    records_created = models.BigIntegerField(default=0)
    records_updated = models.BigIntegerField(default=0)
    records_deleted = models.BigIntegerField(default=0)
    # Progress: objects processed of the total Shopify announced (0 = not known yet).
    progress_done = models.BigIntegerField(default=0)
    progress_total = models.BigIntegerField(default=0)
    # Where a crashed run resumes: bulk operation ids/urls and lines consumed per phase.
    checkpoint = models.JSONField(default=dict, blank=True)
    # Latest Shopify updated_at seen; the next delta asks for changes after it.
    high_water_mark = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True, default="")

    class Meta:
        indexes = [models.Index(fields=["shop", "-created_at"], name="syncrun_shop_created")]
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} sync {self.pk} of shop {self.shop_id}: {self.status}"

    @property
    def progress_percent(self) -> float | None:
        if not self.progress_total:
            return None
        return round(min(100.0, 100.0 * self.progress_done / self.progress_total), 1)


class CustomerDataExport(ShopOwnedModel):
    """What the mirror held about one customer when Shopify sent customers/data_request.

    It holds personal data, so it is readable by agency admins only and erased with the customer
    on customers/redact.
    """

    customer = models.ForeignKey(
        Customer,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
    )
    customer_shopify_id = models.BigIntegerField()
    data_request_id = models.BigIntegerField(null=True, blank=True)
    orders_requested = models.JSONField(default=list, blank=True)
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["shop", "customer_shopify_id"], name="export_customer"),
        ]
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"data export {self.pk} for customer {self.customer_shopify_id}"


class AccountInviteBatch(ShopOwnedModel):
    """One request to invite customers to a classic customer account (one or many customers)."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    requested_by = models.CharField(max_length=64, blank=True, default="")
    # What was asked: "customers" (explicit ids) or "segment:<id>" once segments exist.
    source = models.CharField(max_length=64, blank=True, default="customers")
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"invite batch {self.pk} ({self.status})"


class AccountInvite(ShopOwnedModel):
    """One customer of a batch: pending until sent, or skipped with the reason."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        SKIPPED = "skipped", "Skipped"
        FAILED = "failed", "Failed"

    batch = models.ForeignKey(AccountInviteBatch, on_delete=models.CASCADE, related_name="invites")
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    skip_reason = models.CharField(max_length=32, blank=True, default="")
    sent_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True, default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "batch", "customer"], name="invite_unique_customer_per_batch"
            )
        ]
        indexes = [models.Index(fields=["shop", "batch", "status"], name="invite_batch_status")]

    def __str__(self) -> str:
        return f"invite of customer {self.customer_id}: {self.status}"


class MirrorChange(ShopOwnedModel):
    """Outbox of committed mirror changes that the `mirror_changed` hooks have not heard yet.

    Written in a webhook delivery's transaction, drained by one task per shop (customers.outbox),
    so a burst of deliveries costs the hooks one batched call instead of one per delivery.
    """

    customer_id = models.BigIntegerField(null=True, blank=True)  # null: the whole shop
    changed = models.JSONField(null=True, blank=True)  # field names; null: anything
    created_at = models.DateTimeField()


class MirrorChangeDrain(ShopOwnedModel):
    """At most one per shop: a drain task is queued for the shop's outbox (customers.outbox)."""

    enqueued_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["shop"], name="mirror_change_drain_shop")]
