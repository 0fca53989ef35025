"""Shopify's customer segment query language: parse -> check -> AST -> SQL (or Python).

    from segments.query import parse_query, SegmentQueryError
    query = parse_query("customer_tags CONTAINS 'vip' AND amount_spent > 100")
    query.text            # the canonical text

Everything that knows about attributes reads the one table in `registry.py`.
"""

from segments.query.errors import QueryErrorDetail, SegmentQueryError
from segments.query.parser import parse_query

__all__ = ["QueryErrorDetail", "SegmentQueryError", "parse_query"]
