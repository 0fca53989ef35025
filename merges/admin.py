"""Admin for duplicate detection (platform operators): candidates, remembered dismissals and the
shops' fitted models, read-only. Decisions belong to the agencies' reviewers (API, pages); the
operator may only queue a re-scan, which goes through the same service as a mirror change.
"""

from django.contrib import admin, messages
from django.utils.html import format_html, format_html_join

from merges.models import DismissedPair, DuplicateCandidate, MatcherFit
from merges.tasks import duplicates_check_enqueue


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(DuplicateCandidate)
class DuplicateCandidateAdmin(ReadOnlyAdmin):
    list_display = ["id", "shop", "status", "tier", "probability", "size", "mergeable",
                    "needs_split", "detector_version", "detected_at", "decided_at"]  # fmt: skip
    list_filter = ["status", "tier", "needs_split", "shop"]
    list_select_related = ["shop"]
    show_full_result_count = False
    fields = ["shop", "members", "survivor", "survivor_reason", "probability", "tier", "status",
              "status_reason", "blocker_list", "needs_split", "waterfall", "detector_version",
              "detected_at", "decided_at"]  # fmt: skip
    readonly_fields = fields

    @admin.display(description="members")
    def size(self, candidate: DuplicateCandidate) -> int:
        return len(candidate.members)

    @admin.display(boolean=True)
    def mergeable(self, candidate: DuplicateCandidate) -> bool:
        return not candidate.blockers

    @admin.display(description="blockers")
    def blocker_list(self, candidate: DuplicateCandidate):
        rows = ((b["customer_id"], b["blocker"], b["hint"]) for b in candidate.blockers)
        return format_html_join("", "<p>customer {}: {} ({})</p>", rows) or "none"

    @admin.display(description="explanation")
    def waterfall(self, candidate: DuplicateCandidate):
        """Per linked pair: level and signed weight per field (raw values are on the API)."""
        edges = (candidate.explanation or {}).get("edges", [])
        return format_html_join(
            "",
            "<p><b>{} and {}</b> p={} ({} bits): {}</p>",
            (
                (
                    *edge["customers"],
                    f"{edge['probability']:.4f}",
                    edge.get("total_weight", ""),
                    "; ".join(
                        f"{row['field']} {row.get('level', '')} {row['weight']:+}"
                        for row in edge.get("rows", [])
                    ),
                )
                for edge in edges
            ),
        ) or format_html("<p>{}</p>", "no edges")


@admin.register(DismissedPair)
class DismissedPairAdmin(ReadOnlyAdmin):
    list_display = ["id", "shop", "customer_low", "customer_high", "candidate", "created_at"]
    list_filter = ["shop"]
    list_select_related = ["shop"]
    raw_id_fields = ["customer_low", "customer_high", "candidate"]
    show_full_result_count = False
    fields = ["shop", "customer_low", "customer_high", "fingerprint_low", "fingerprint_high",
              "reason", "candidate", "created_at"]  # fmt: skip
    readonly_fields = fields


@admin.register(MatcherFit)
class MatcherFitAdmin(ReadOnlyAdmin):
    list_display = ["shop", "detector_version", "fitted_at", "labels", "refit_stored"]
    list_select_related = ["shop"]
    fields = ["shop", "detector_version", "fitted_at", "calibration", "prior"]
    readonly_fields = fields
    actions = ["rescan"]

    @admin.display(description="labels (matches / non-matches)")
    def labels(self, fit: MatcherFit) -> str:
        counts = (fit.calibration or {}).get("labels")
        return f"{counts['matches']} / {counts['non_matches']}" if counts else "none"

    @admin.display(boolean=True, description="refit with labels in use")
    def refit_stored(self, fit: MatcherFit) -> bool:
        return bool((fit.calibration or {}).get("stored_refit"))

    @admin.display(description="prior (chance two random customers are one person)")
    def prior(self, fit: MatcherFit) -> str:
        return f"{fit.params.get('prior', 0):.3g}"

    @admin.action(description="Queue a re-scan of these shops (stored weights)")
    def rescan(self, request, queryset):
        shop_ids = list(queryset.values_list("shop_id", flat=True))
        for shop_id in shop_ids:
            duplicates_check_enqueue(shop_id=shop_id, customer_ids=None, reason="admin")
        self.message_user(request, f"Re-scan queued for {len(shop_ids)} shop(s).", messages.INFO)
