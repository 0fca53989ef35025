"""Segments' write services (keyword-only; each state change writes its audit event)."""

from segments.services.definitions import (
    SegmentConflict,
    segment_create,
    segment_delete,
    segment_restore,
    segment_update,
)
from segments.services.membership import segment_refresh, snapshot_create
from segments.services.scores import ScoreRefresh, customer_scores_refresh

__all__ = [
    "ScoreRefresh",
    "SegmentConflict",
    "customer_scores_refresh",
    "segment_create",
    "segment_delete",
    "segment_refresh",
    "segment_restore",
    "segment_update",
    "snapshot_create",
]
