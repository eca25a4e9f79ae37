"""ICE servers for clients (STUN, TURN with time-limited credentials) and the media network.

TURN credentials follow coturn's "TURN REST API" (``use-auth-secret`` + ``static-auth-secret``,
draft-uberti-behave-turn-rest-00): the username is ``"<expiry unix time>:<who>"`` and the
password is ``base64(HMAC-SHA1(secret, username))``. coturn recomputes the password from the
shared secret and refuses the username once its time has passed, so the server never stores
TURN accounts and a leaked credential stops working after ``turn_ttl_seconds``.
"""

import base64
import hashlib
import hmac
import time
from typing import Any

from pydantic import BaseModel

from media.ports import MediaNetwork, PortRange
from signaling.settings import Settings

# coturn's default ``rest-api-separator``; it reads the expiry up to the first one.
REST_API_SEPARATOR = ":"


def turn_credentials(
    secret: str, principal_key: str, ttl: int, now: float | None = None
) -> tuple[str, str]:
    """(username, credential) for coturn's ``use-auth-secret``, valid ``ttl`` seconds from now.

    ``principal_key`` names who asked (e.g. ``"account:7"``); coturn logs it with the session.
    ``now`` is the current Unix time, for tests; default ``time.time()``.
    """
    if not secret:
        raise ValueError("an empty TURN secret would let anyone compute credentials")
    if ttl <= 0:
        raise ValueError("the TURN credential lifetime must be positive")
    expiry = int(time.time() if now is None else now) + ttl
    username = f"{expiry}{REST_API_SEPARATOR}{principal_key}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode("ascii")


def ice_servers_for(
    settings: Settings, principal_key: str, now: float | None = None
) -> list[dict[str, Any]]:
    """``RTCIceServer`` dicts for a browser's ``RTCPeerConnection({iceServers})``.

    STUN URLs as one entry without credentials; TURN URLs as one entry with fresh
    credentials for ``principal_key``. Empty when neither is configured (LAN deployments:
    clients reach the SFU's host candidates directly).
    """
    servers: list[dict[str, Any]] = []
    if settings.ice_servers:
        servers.append({"urls": list(settings.ice_servers)})
    if settings.turn_urls:
        if not settings.turn_secret:  # Settings refuses this; kept for hand-built settings
            raise ValueError("turn_urls are configured without turn_secret")
        username, credential = turn_credentials(
            settings.turn_secret, principal_key, settings.turn_ttl_seconds, now
        )
        servers.append(
            {"urls": list(settings.turn_urls), "username": username, "credential": credential}
        )
    return servers


class StunServerOut(BaseModel):
    """An ``RTCIceServer`` without credentials."""

    urls: list[str]


class TurnServerOut(BaseModel):
    """An ``RTCIceServer`` with TURN REST credentials (``credentialType`` "password")."""

    urls: list[str]
    username: str
    credential: str


class IceServersOut(BaseModel):
    """``GET /meetings/{meeting_id}/ice-servers``: pass ``ice_servers`` to RTCPeerConnection."""

    # TURN first: a dict with credentials must not be read as a bare STUN entry.
    ice_servers: list[TurnServerOut | StunServerOut]


def media_network(settings: Settings) -> MediaNetwork:
    """Where the SFU gathers host candidates: ports, local addresses, announced address."""
    low, high = settings.media_udp_port_min, settings.media_udp_port_max
    return MediaNetwork(
        port_range=PortRange(low, high) if low is not None and high is not None else None,
        bind_addresses=(
            tuple(settings.media_bind_addresses) if settings.media_bind_addresses else None
        ),
        announced_address=settings.media_announced_address,
    )


__all__ = [
    "REST_API_SEPARATOR",
    "IceServersOut",
    "StunServerOut",
    "TurnServerOut",
    "ice_servers_for",
    "media_network",
    "turn_credentials",
]
