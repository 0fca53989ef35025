"""Who did something, as services and the audit log need it."""

from dataclasses import dataclass
from typing import Any

from audit.services import SYSTEM, actor_label


@dataclass(frozen=True)
class Actor:
    """A person (user), a program (API key) or the system (neither)."""

    user: Any = None
    api_key: Any = None

    @property
    def label(self) -> str:
        prefix = self.api_key.prefix if self.api_key is not None else None
        return actor_label(self.user, api_key_prefix=prefix, default=SYSTEM)

    def audit_kwargs(self) -> dict[str, Any]:
        """`actor` and `actor_user` for audit_event_record(...)."""
        return {"actor": self.label, "actor_user": self.user}


SYSTEM_ACTOR = Actor()
