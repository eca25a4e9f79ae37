"""Browser sessions: a random cookie token, stored as its SHA-256, with a CSRF token."""

import secrets
from datetime import timedelta

from sqlmodel import delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from meetings.clock import as_utc, utcnow
from meetings.credentials import hash_token
from meetings.models import AuthSession

SESSION_COOKIE = "phonghop_session"
CSRF_COOKIE = "phonghop_csrf"
CSRF_HEADER = "X-CSRF-Token"


async def open_session(
    session: AsyncSession, account_id: int, ttl_seconds: int, address: str, user_agent: str
) -> tuple[str, AuthSession]:
    """Create a session row; return the cookie token (never stored) and the row."""
    token = secrets.token_urlsafe(32)
    row = AuthSession(
        token_hash=hash_token(token),
        account_id=account_id,
        csrf_token=secrets.token_urlsafe(32),
        expires_at=utcnow() + timedelta(seconds=ttl_seconds),
        address=address[:64],
        user_agent=user_agent[:300],
    )
    session.add(row)
    await session.flush()
    return token, row


async def find_session(session: AsyncSession, token: str) -> AuthSession | None:
    """The live session for a cookie token, or None when unknown or expired."""
    row = (
        await session.exec(select(AuthSession).where(AuthSession.token_hash == hash_token(token)))
    ).first()
    if row is None or as_utc(row.expires_at) <= utcnow():
        return None
    return row


async def close_session(session: AsyncSession, session_id: int) -> None:
    """Log out: delete the session row."""
    await session.exec(delete(AuthSession).where(AuthSession.id == session_id))  # type: ignore[call-overload]


async def close_sessions_of(session: AsyncSession, account_id: int) -> None:
    """End every session of an account (password reset, account disabled)."""
    await session.exec(delete(AuthSession).where(AuthSession.account_id == account_id))  # type: ignore[call-overload]


async def purge_expired(session: AsyncSession) -> None:
    """Delete sessions past their expiry."""
    await session.exec(delete(AuthSession).where(AuthSession.expires_at < utcnow()))  # type: ignore[call-overload]
