"""An authenticated caller plus how it authenticated (which decides whether CSRF applies)."""

from dataclasses import dataclass

from meetings.actor import Actor


@dataclass(frozen=True, slots=True)
class Principal:
    """The actor behind a request or socket, and the credential it used."""

    actor: Actor
    via_cookie: bool = False
    csrf_token: str | None = None
    session_id: int | None = None
