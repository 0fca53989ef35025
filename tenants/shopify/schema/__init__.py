"""Shopify's Admin GraphQL schema (2025-01 introspection dump + documented later fields).

Used to validate every document the client sends (tests) and by the sandbox to answer exactly
as Shopify's schema would. Building it takes a fraction of a second; it is cached per process.
"""

import gzip
import json
from functools import cache
from pathlib import Path

from graphql import GraphQLSchema, build_client_schema, extend_schema, parse, validate

HERE = Path(__file__).resolve().parent
DUMP = HERE / "admin-2025-01.introspection.json.gz"
EXTENSIONS = HERE / "extensions.graphql"


@cache
def admin_schema() -> GraphQLSchema:
    with gzip.open(DUMP, "rt", encoding="utf-8") as handle:
        introspection = json.load(handle)
    schema = build_client_schema(introspection["data"])
    return extend_schema(schema, parse(EXTENSIONS.read_text()), assume_valid=True)


def validation_errors(document: str) -> list[str]:
    """Messages for every way `document` breaks the Admin schema (empty when valid)."""
    return [error.message for error in validate(admin_schema(), parse(document))]
