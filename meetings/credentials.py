"""Password hashing (argon2) and device tokens (random, stored as SHA-256)."""

import asyncio
import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

DEVICE_TOKEN_PREFIX = "phd_"
_hasher = PasswordHasher()  # stateless and thread-safe: parameters only, no mutable state
# A hash of a random string, verified when the username is unknown, so a failed login costs the
# same time whether or not the account exists.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))
MIN_PASSWORD_LENGTH = 10


async def hash_password(password: str) -> str:
    """Argon2id hash, computed off the event loop (it is deliberately slow)."""
    return await asyncio.to_thread(_hasher.hash, password)


def _verify(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


async def verify_password(stored: str | None, password: str) -> bool:
    """Check a password against a stored hash (or a dummy one), off the event loop."""
    return await asyncio.to_thread(_verify, stored or _DUMMY_HASH, password) and stored is not None


def needs_rehash(stored: str) -> bool:
    """True when the hash was made with weaker parameters than today's."""
    return _hasher.check_needs_rehash(stored)


def generate_password() -> str:
    """A random password for first-start and reset flows."""
    return secrets.token_urlsafe(15)


def new_device_token() -> tuple[str, str]:
    """Return ``(token, sha256_hex)``; 256 bits of entropy make a plain hash safe to store."""
    token = DEVICE_TOKEN_PREFIX + secrets.token_urlsafe(32)
    return token, hash_token(token)


def hash_token(token: str) -> str:
    """SHA-256 hex digest of a bearer secret."""
    return hashlib.sha256(token.encode()).hexdigest()
