"""Modules the sandbox server imports; each registers its resolvers/routes/installers on import.

Add a module here to plug it in (sandbox2: bulk operations, webhooks, merges, tags, segments).
"""

EXTENSIONS = [
    "sandbox.resolvers.shop",
    "sandbox.resolvers.customers",
    "sandbox.resolvers.orders",
    "sandbox.resolvers.nodes",
    "sandbox.api",
    "sandbox.control",
    "sandbox.webhook_events",
    "sandbox.webhook_api",
    "sandbox.webhook_control",
    "sandbox.bulk_api",
    "sandbox.merge_api",
    "sandbox.mutations",
]
