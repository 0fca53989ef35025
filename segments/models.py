"""Segments' own tables. The query language lives in `segments.query`."""

from django.conf import settings
from django.db import models

from segments.query.registry import RFM_GROUPS, SPEND_TIERS
from tenants.scoping import ShopOwnedModel


class CustomerScore(ShopOwnedModel):
    """RFM scores, RFM group and predicted spend tier that Clientele computes per store
    (segments.scoring) for stores where Shopify does not hand them to the app."""

    customer = models.OneToOneField(
        "customers.Customer",
        on_delete=models.CASCADE,
        related_name="segment_score",
        db_constraint=False,
    )
    recency = models.PositiveSmallIntegerField(null=True, blank=True)  # 1..5, 5 = most recent
    frequency = models.PositiveSmallIntegerField(null=True, blank=True)
    monetary = models.PositiveSmallIntegerField(null=True, blank=True)
    rfm_group = models.CharField(max_length=20, choices=[(g, g) for g in RFM_GROUPS])
    predicted_spend_tier = models.CharField(
        max_length=8, choices=[(t, t) for t in SPEND_TIERS], blank=True, default=""
    )
    computed_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["shop", "rfm_group"], name="score_rfm_group"),
            models.Index(fields=["shop", "predicted_spend_tier"], name="score_spend_tier"),
        ]

    def __str__(self) -> str:
        return f"score of customer {self.customer_id}: {self.rfm_group}"


class Segment(models.Model):
    """A saved query over one shop, several, or all of an agency's shops.

    Membership is materialised in SegmentMembership; every refresh writes entered/exited rows
    to MembershipEvent, the ledger that time travel and the change feed read."""

    agency = models.ForeignKey("tenants.Agency", on_delete=models.CASCADE, related_name="segments")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    query = models.TextField()  # canonical text (segments.query.normalise)
    parsed = models.JSONField(default=dict)  # the AST, segments.query.serialise
    attributes = models.JSONField(default=list)  # attributes the query reads, for refresh triggers
    all_shops = models.BooleanField(default=False)  # else the shops below
    shops = models.ManyToManyField("tenants.Shop", blank=True, related_name="+")
    version = models.PositiveIntegerField(default=1)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    last_refreshed_at = models.DateTimeField(null=True, blank=True)
    # The current member count: set by a full refresh, adjusted by each incremental one's
    # entered/exited, both under this row's lock (refreshes are the only writers of the
    # membership rows), so it equals their count without counting them on every webhook.
    members = models.PositiveIntegerField(default=0)
    # Relative dates move at each shop's midnight; a daily refresh keeps such segments exact.
    uses_relative_dates = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["agency", "name"], name="segment_unique_name")
        ]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class SegmentVersion(models.Model):
    """One saved state of a segment: who, when, what changed (`diff`: field -> [old, new])."""

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    query = models.TextField()
    all_shops = models.BooleanField(default=False)
    shop_ids = models.JSONField(default=list)
    diff = models.JSONField(default=dict)
    edited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    edited_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["segment", "number"], name="segment_version_unique")
        ]
        ordering = ["segment", "-number"]

    def __str__(self) -> str:
        return f"{self.segment_id} v{self.number}"


class SegmentMembership(ShopOwnedModel):
    """Current members: replaced atomically by each refresh."""

    # A full refresh writes a row per member (1,000,000 in bench/segments.py), so every index and
    # database FK check costs: no FK triggers (deletes cascade in the ORM), no index that another
    # covers. (segment, customer) serves the refresh diff, the members page keyset and lookups.
    shop = models.ForeignKey(
        "tenants.Shop",
        on_delete=models.CASCADE,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    segment = models.ForeignKey(
        Segment,
        on_delete=models.CASCADE,
        related_name="memberships",
        db_constraint=False,
        db_index=False,
    )
    # A customer row is only deleted with its shop, whose cascade removes these rows: no
    # customer-leading index to maintain on every refresh (lookups name the segments).
    customer = models.ForeignKey(
        "customers.Customer",
        on_delete=models.DO_NOTHING,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    entered_at = models.DateTimeField()

    class Meta:
        # On PostgreSQL this constraint is the table's primary key (migration 0010): the one
        # b-tree a refresh maintains; `id` stays as a plain identity column.
        constraints = [
            models.UniqueConstraint(fields=["segment", "customer"], name="segment_member_unique")
        ]

    def __str__(self) -> str:
        return f"customer {self.customer_id} in segment {self.segment_id}"


class SegmentRefresh(models.Model):
    """One refresh run of a segment and what it changed."""

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="refreshes")
    reason = models.CharField(max_length=32)  # definition / data / schedule / manual
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    entered = models.PositiveIntegerField(default=0)
    exited = models.PositiveIntegerField(default=0)
    members = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"refresh {self.pk} of segment {self.segment_id}"


class MembershipEvent(ShopOwnedModel):
    """The ledger: a customer entered or exited a segment. Append-only; ids only.

    `customer_id` is a plain id so the history outlives the customer row. Like membership, no FK
    triggers and one index besides the key: (segment, id) serves the change feed and time travel
    (which reads all of a segment's events up to a moment, so a time index saved little and cost
    every refresh a third b-tree)."""

    class Kind(models.TextChoices):
        ENTERED = "entered", "Entered"
        EXITED = "exited", "Exited"

    shop = models.ForeignKey(
        "tenants.Shop",
        on_delete=models.CASCADE,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    segment = models.ForeignKey(
        Segment,
        on_delete=models.CASCADE,
        related_name="events",
        db_constraint=False,
        db_index=False,
    )
    customer_id = models.BigIntegerField()
    kind = models.CharField(max_length=8, choices=Kind.choices)
    occurred_at = models.DateTimeField()
    # A run is only ever deleted with its segment, whose cascade removes the events: no index.
    refresh = models.ForeignKey(
        SegmentRefresh,
        on_delete=models.DO_NOTHING,
        related_name="events",
        db_constraint=False,
        db_index=False,
    )

    class Meta:
        # On PostgreSQL this index is the table's primary key (migration 0010): the one b-tree
        # a refresh maintains; nothing reads the ledger by id alone.
        indexes = [models.Index(fields=["segment", "id"], name="ledger_segment_feed")]

    def __str__(self) -> str:
        return f"customer {self.customer_id} {self.kind} segment {self.segment_id}"


class Snapshot(models.Model):
    """A frozen copy of a segment's membership under a name (e.g. a campaign's audience)."""

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="snapshots")
    name = models.CharField(max_length=200)
    query = models.TextField()  # the definition at the time
    members = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["segment", "name"], name="snapshot_unique_name")
        ]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name


class SnapshotMember(ShopOwnedModel):
    snapshot = models.ForeignKey(Snapshot, on_delete=models.CASCADE, related_name="rows")
    customer_id = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "snapshot", "customer_id"], name="snapshot_member_unique"
            )
        ]

    def __str__(self) -> str:
        return f"customer {self.customer_id} in snapshot {self.snapshot_id}"


class GroupSet(models.Model):
    """An ordered list of groups; each customer of the scope sits in the first group whose
    rule matches, or in "other", so groups are exclusive."""

    agency = models.ForeignKey(
        "tenants.Agency", on_delete=models.CASCADE, related_name="group_sets"
    )
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=60)
    all_shops = models.BooleanField(default=True)
    shops = models.ManyToManyField("tenants.Shop", blank=True, related_name="+")
    # Keep a `<tag_prefix><group slug>` tag on customers in Shopify (written back by a task).
    write_back_tags = models.BooleanField(default=False)
    tag_prefix = models.CharField(max_length=40, default="group:")
    created_at = models.DateTimeField(auto_now_add=True)
    last_refreshed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["agency", "slug"], name="group_set_unique_slug")
        ]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


OTHER_GROUP = "other"


class Group(models.Model):
    group_set = models.ForeignKey(GroupSet, on_delete=models.CASCADE, related_name="groups")
    position = models.PositiveSmallIntegerField()
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=60)
    query = models.TextField()
    parsed = models.JSONField(default=dict)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["group_set", "slug"], name="group_unique_slug"),
            models.UniqueConstraint(fields=["group_set", "position"], name="group_unique_position"),
        ]
        ordering = ["group_set", "position"]

    def __str__(self) -> str:
        return f"{self.group_set.slug}:{self.slug}"


class GroupAssignment(ShopOwnedModel):
    """The group a customer is in now (`other` when no rule matches)."""

    group_set = models.ForeignKey(GroupSet, on_delete=models.CASCADE, related_name="assignments")
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    group_slug = models.CharField(max_length=60)
    since = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "group_set", "customer"], name="group_assignment_unique"
            )
        ]
        indexes = [
            models.Index(fields=["shop", "group_set", "group_slug"], name="assignment_group"),
            models.Index(fields=["customer", "group_set"], name="assignment_customer"),
        ]

    def __str__(self) -> str:
        return f"customer {self.customer_id} in {self.group_slug}"


class GroupMove(ShopOwnedModel):
    """A customer moved between groups ("" = not in the set: new to it, or gone)."""

    group_set = models.ForeignKey(GroupSet, on_delete=models.CASCADE, related_name="moves")
    customer_id = models.BigIntegerField()
    from_group = models.CharField(max_length=60, blank=True, default="")
    to_group = models.CharField(max_length=60, blank=True, default="")
    moved_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["shop", "group_set", "moved_at"], name="move_set_time"),
        ]

    def __str__(self) -> str:
        return f"customer {self.customer_id}: {self.from_group or '-'} -> {self.to_group or '-'}"


class GroupTag(ShopOwnedModel):
    """The group tag Clientele last wrote on a customer in Shopify for a group set ("" = none).
    Write-back compares it with the current group, so only changed customers are touched and
    a crashed run resumes where it stopped."""

    group_set = models.ForeignKey(GroupSet, on_delete=models.CASCADE, related_name="tags")
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    tag = models.CharField(max_length=120, blank=True, default="")
    written_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "group_set", "customer"], name="group_tag_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.tag or '-'} on customer {self.customer_id}"


class SegmentTemplate(models.Model):
    """An agency's own ready segment: a query with `{name}` placeholders and typed parameters
    (segments.templates), applied to many shops at once like the library's."""

    agency = models.ForeignKey(
        "tenants.Agency", on_delete=models.CASCADE, related_name="segment_templates"
    )
    key = models.SlugField(max_length=60)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    query = models.TextField()
    # [{"name", "kind": integer|number|string|date, "default", "description"}, ...]
    parameters = models.JSONField(default=list)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["agency", "key"], name="segment_template_unique_key")
        ]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class OrderProduct(models.Model):
    """One product of one live order (not deleted, not cancelled, with a customer): what
    `products_purchased MATCHES (id ..., date ...)` reads on PostgreSQL, through an index-only
    scan of (shop, product, customer, processed_at) instead of fetching the scattered order
    rows (a bitmap heap scan of ~22,500 order pages per count at 1,000,000 customers).

    Not written by Django: statement-level triggers on customers_order (migration 0009) keep it
    in step with every write of the mirror's orders, in the writing statement's transaction and
    set-based (the full sync's apply, webhooks, deletions, redaction, a shop's erasure). SQLite
    (the demo) has no such table: there the compiler reads the orders' JSON lists."""

    pk = models.CompositePrimaryKey("order_id", "product_id")
    shop_id = models.BigIntegerField()
    customer_id = models.BigIntegerField()
    product_id = models.BigIntegerField()
    order_id = models.BigIntegerField()
    processed_at = models.DateTimeField(null=True)

    class Meta:
        managed = False
        db_table = "segments_order_product"

    def __str__(self) -> str:
        return f"order {self.order_id} product {self.product_id}"
