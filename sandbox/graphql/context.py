"""What a resolver sees as `info.context`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sandbox.store import Sandbox, Store


@dataclass
class RequestContext:
    sandbox: Sandbox
    store: Store
    scopes: frozenset[str]
    api_key: str
    api_version: str = "2025-01"
    # True while a bulk operation runs the query: no first/last requirement, no page cap.
    bulk: bool = False
    # Resolvers may add `extensions.search` warnings and the like here.
    extensions: dict[str, Any] = field(default_factory=dict)
    # Set by mutations that failed with userErrors (actual cost drops to the base 10).
    failed_mutations: set[str] = field(default_factory=set)
