"""Short-lived bearer tokens (JWT, HS256) for API clients and devices."""

from dataclasses import dataclass
from datetime import timedelta

import jwt

from meetings.actor import ActorKind
from meetings.clock import utcnow

ISSUER = "phonghop"
AUDIENCE = "phonghop-api"


@dataclass(frozen=True, slots=True)
class TokenClaims:
    """What a verified token says."""

    kind: ActorKind
    id: int
    issued_at: float
    credential_version: float  # endpoint token issue time; lets revocation end JWTs at once


class TokenIssuer:
    """Signs and verifies JWTs with the server's secret key."""

    def __init__(self, secret: str, ttl_seconds: int) -> None:
        self._secret = secret
        self.ttl_seconds = ttl_seconds

    def issue(self, kind: ActorKind, actor_id: int, credential_version: float = 0.0) -> str:
        """A token for this actor, valid for ``ttl_seconds``."""
        now = utcnow()
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": f"{kind.value}:{actor_id}",
            # Sub-second precision: a password change must end tokens issued a moment before.
            "iat": now.timestamp(),
            "exp": now + timedelta(seconds=self.ttl_seconds),
            "cv": credential_version,
        }
        return jwt.encode(claims, self._secret, algorithm="HS256")

    def verify(self, token: str) -> TokenClaims | None:
        """Claims of a valid, unexpired token of ours, else None."""
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=["HS256"],
                audience=AUDIENCE,
                issuer=ISSUER,
                options={"require": ["exp", "iat", "sub"]},
            )
            kind, _, raw_id = str(claims["sub"]).partition(":")
            return TokenClaims(
                ActorKind(kind), int(raw_id), float(claims["iat"]), float(claims.get("cv", 0))
            )
        except (jwt.PyJWTError, ValueError, KeyError):
            return None
