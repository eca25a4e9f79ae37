"""Who is acting: a logged-in account or a commune endpoint device."""

from dataclasses import dataclass
from enum import StrEnum

from meetings.models import Role


class ActorKind(StrEnum):
    """Kind of principal."""

    ACCOUNT = "account"
    ENDPOINT = "endpoint"


@dataclass(frozen=True, slots=True)
class Actor:
    """An authenticated principal, as the domain sees it."""

    kind: ActorKind
    id: int
    unit_id: int
    name: str
    role: Role | None = None  # endpoints have no account role

    @property
    def key(self) -> str:
        """Stable identity across connections, e.g. ``account:7``."""
        return f"{self.kind.value}:{self.id}"

    @property
    def is_admin(self) -> bool:
        """True for administrator accounts."""
        return self.kind is ActorKind.ACCOUNT and self.role is Role.ADMIN
