"""socket.io event registry: payload validation, permission check and error acks in one place."""

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from meetings.errors import DomainError, Forbidden
from meetings.permissions import PERMISSIONS, Action, Relation, authorize
from signaling.auth.principal import Principal
from signaling.errors import error_body, validation_details
from signaling.logs import bound_context, get_logger

log = get_logger("phonghop.socket")


@dataclass
class Connection:
    """One socket.io connection and the meetings it has joined (with its relations to each)."""

    sid: str
    principal: Principal
    meetings: dict[int, frozenset[Relation]] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """The principal's stable key."""
        return self.principal.actor.key


EventHandler = Callable[[Connection, Any], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class EventSpec:
    """One client → server event.

    ``action`` is checked here for events on a joined meeting (from the relations cached at
    join time). ``join`` itself checks against the database, since nothing is cached yet.
    """

    name: str
    payload: type[BaseModel]
    action: Action | None
    handler: EventHandler
    needs_join: bool = True


class EventRegistry:
    """Holds the event specs and runs them with uniform acks."""

    def __init__(self) -> None:
        self.specs: dict[str, EventSpec] = {}

    def add(self, spec: EventSpec) -> None:
        """Register an event."""
        self.specs[spec.name] = spec

    async def dispatch(
        self, name: str, conn: Connection | None, data: Any, on_error: Callable[[str], None]
    ) -> dict[str, Any]:
        """Validate, authorize and run; always returns an ack, never raises."""
        started = time.monotonic()
        spec = self.specs.get(name)
        meeting_id = data.get("meeting_id") if isinstance(data, dict) else None
        actor_key = conn.key if conn else None
        with bound_context(
            event=name,
            sid=conn.sid if conn else None,
            actor=actor_key,
            meeting_id=meeting_id if isinstance(meeting_id, int) else None,
        ):
            try:
                if conn is None:
                    raise _AckError("unauthenticated", "not authenticated")
                if spec is None:
                    raise _AckError("unknown_event", f"unknown event: {name[:64]!r}")
                try:
                    payload = spec.payload.model_validate(data)
                except ValidationError as exc:
                    raise _AckError(
                        "invalid_payload",
                        f"invalid payload for {name}",
                        errors=validation_details(exc.errors()),
                    ) from exc
                if (
                    spec.action is not None
                    and spec.needs_join
                    and PERMISSIONS[spec.action].meeting_scoped
                ):
                    relations = conn.meetings.get(payload.meeting_id)  # type: ignore[attr-defined]
                    if relations is None:
                        raise Forbidden("join the meeting first")
                    authorize(conn.principal.actor, spec.action, relations)
                result = await spec.handler(conn, payload)
                return {"ok": True, **result}
            except _AckError as exc:
                log.warning("socket.rejected", code=exc.code, reason=exc.message)
                on_error(exc.code)
                return {"ok": False, **error_body(exc.code, exc.message, exc.details)}
            except DomainError as exc:
                log.warning("socket.refused", code=exc.code, reason=exc.message)
                on_error(exc.code)
                return {"ok": False, **error_body(exc.code, exc.message)}
            except Exception:
                log.exception("socket.internal_error")
                on_error("internal_error")
                return {"ok": False, **error_body("internal_error", "internal server error")}
            finally:
                log.debug("socket.event", seconds=round(time.monotonic() - started, 6))


class _AckError(Exception):
    def __init__(self, code: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details
