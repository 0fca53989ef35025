"""Segments' write services (keyword-only; each state change writes its audit event)."""

from segments.services.definitions import (
    SegmentConflict,
    group_set_update,
    segment_create,
    segment_delete,
    segment_restore,
    segment_template_apply,
    segment_update,
)
from segments.services.derived import shop_derived_refresh
from segments.services.groups import (
    BUILT_IN,
    group_set_create,
    group_set_install_built_in,
    group_set_refresh,
    group_set_refresh_customers,
)
from segments.services.membership import (
    segment_refresh,
    segment_refresh_customers,
    snapshot_create,
)
from segments.services.scores import ScoreRefresh, customer_scores_refresh
from segments.services.tags import WriteBack, group_tags_write_back
from segments.services.templates import (
    segment_template_create,
    segment_template_delete,
    segment_template_update,
)

__all__ = [
    "BUILT_IN",
    "ScoreRefresh",
    "SegmentConflict",
    "WriteBack",
    "customer_scores_refresh",
    "group_set_create",
    "group_set_install_built_in",
    "group_set_refresh",
    "group_set_refresh_customers",
    "group_set_update",
    "group_tags_write_back",
    "segment_create",
    "segment_delete",
    "segment_refresh",
    "segment_refresh_customers",
    "segment_restore",
    "segment_template_apply",
    "segment_template_create",
    "segment_template_delete",
    "segment_template_update",
    "segment_update",
    "shop_derived_refresh",
    "snapshot_create",
]
