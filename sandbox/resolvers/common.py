"""Helpers shared by resolvers: ids, countries, argument checks."""

from __future__ import annotations

import re

from graphql import GraphQLError

from sandbox.seed import GID

COUNTRY_NAMES = {
    "AT": "Austria", "AU": "Australia", "BE": "Belgium", "BR": "Brazil", "CA": "Canada",
    "CH": "Switzerland", "CN": "China", "CZ": "Czechia", "DE": "Germany", "DK": "Denmark",
    "ES": "Spain", "FI": "Finland", "FR": "France", "GB": "United Kingdom", "GR": "Greece",
    "HU": "Hungary", "IE": "Ireland", "IN": "India", "IT": "Italy", "JP": "Japan",
    "KR": "South Korea", "LU": "Luxembourg", "MX": "Mexico", "NL": "Netherlands", "NO": "Norway",
    "NZ": "New Zealand", "PL": "Poland", "PT": "Portugal", "RO": "Romania", "SE": "Sweden",
    "SG": "Singapore", "TR": "Türkiye", "US": "United States", "ZA": "South Africa",
}  # fmt: skip


def country_name(code: str | None) -> str | None:
    if code is None:
        return None
    return COUNTRY_NAMES.get(code, code)


def global_id_number(value: str, kind: str | None = None) -> tuple[str, int]:
    """`gid://shopify/<Kind>/<n>` -> (Kind, n); Shopify's error for anything else."""
    match = GID.match(value or "") if isinstance(value, str) else None
    if not match or (kind is not None and match.group(1) != kind):
        raise GraphQLError(
            f"Invalid global id '{value}'",
            extensions={"code": "argumentLiteralsIncompatible", "typeName": "CoercionError"},
        )
    return match.group(1), int(match.group(2))


def digits(value: str | None) -> str:
    return re.sub(r"\D", "", value or "")
