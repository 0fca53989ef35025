"""Resolvers for what Clientele reads: shop, customers, orders, nodes (registered on import)."""
