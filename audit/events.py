"""The catalogue of audit events: every event name the code may write, with what it means.

Writing an event that is not listed here is an error, so the log stays a documented vocabulary.
Apps add their events here as they land.
"""

EVENTS: dict[str, str] = {
    "agency.created": "An agency was created",
    "member.invited": "Someone was invited (by email) to take a role in the agency",
    "member.added": "A user was given a role in the agency",
    "member.role_changed": "A member's role changed",
    "member.removed": "A member was removed from the agency",
    "api_key.created": "An API key was issued",
    "api_key.revoked": "An API key was revoked",
    "shop.installed": "A shop completed the OAuth install (or reinstall)",
    "shop.install_rejected": "An OAuth callback was rejected",
    "shop.uninstalled": "The app was uninstalled from a shop",
    "shop.redacted": "Shopify asked to erase a shop; its data was deleted",
    "shop.auth_revoked": "Shopify rejected the shop's access token; the shop needs a reinstall",
    "shop.redact_skipped": "Shopify asked to erase a shop that is installed again; nothing deleted",
    "shop.sync_requested": "A sync of a shop was requested",
    "sync_run.started": "A sync run started, or a crashed one resumed (kind, counts so far)",
    "sync_run.succeeded": "A sync run brought the mirror up to date (kind, counts)",
    "sync_run.failed": "A sync run failed (kind, counts, the kind of its error)",
    "sync_run.skipped": "A requested sync was not run: another sync of the shop was running",
    "sync_run.abandoned": "An unfinished sync run nothing ran any more was dropped by the janitor",
    "customer.redacted": "A customer's personal data was erased on Shopify's request",
    "customer.data_requested": "Shopify asked for a customer's data; an export was produced",
    "customer.data_export_downloaded": "An agency admin downloaded a customer data export",
    "account_invite.requested": "Account invites were requested for customers (some may be skipped)",
    "account_invite.sent": "An account invite was sent to a customer through Shopify",
    "account_invite.failed": "Shopify refused to send an account invite to a customer",
    "account_invite.resumed": "Sending of an account invite batch's pending invites was queued again",
    "segments.scores_refreshed": "RFM groups and spend tiers were recomputed for a shop",
    "segment.created": "A segment was created",
    "segment.updated": "A segment's definition was edited (a new version)",
    "segment.restored": "An earlier version of a segment was made current",
    "segment.deleted": "A segment was deleted",
    "segment.refreshed": "A segment's membership was refreshed (entered/exited counts)",
    "segment_template.created": "An agency segment template (query with parameters) was created",
    "segment_template.updated": "An agency segment template was edited",
    "segment_template.deleted": "An agency segment template was deleted",
    "segment_template.applied": "Segments were created from a template for one or many shops",
    "snapshot.created": "A segment's membership was frozen as a named snapshot",
    "group_set.created": "A group set (ordered, exclusive groups) was created",
    "webhook_subscription.created": "An outgoing webhook subscription was created (URL, what it follows)",
    "webhook_subscription.deleted": "An outgoing webhook subscription was deleted with its deliveries",
    "webhook_subscription.paused": "An outgoing webhook subscription was paused (nothing is sent)",
    "webhook_subscription.resumed": "A paused webhook subscription was resumed (what it missed follows)",
    "webhook_subscription.secret_rotated": "A webhook subscription's signing secret was replaced (grace period for the old one)",
    "group_set.updated": "A group set's settings changed (name, tag write-back, tag prefix)",
    "group_set.refreshed": "Customers were placed in their groups; moves were recorded",
    "group_set.tags_written": "Group tags were written to changed customers in Shopify",
    "duplicates.scanned": "A shop was scanned for duplicate customers (candidate counts)",
    "duplicate.dismissed": "A reviewer dismissed a duplicate candidate (its pairs are remembered)",
    "duplicates.matcher_refit": "A shop's matching weights were refitted with reviewer labels",
}


def describe(event: str) -> str:
    return EVENTS[event]
