"""Accounts: people who log in, with one installation-wide role."""

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from meetings.clock import utcnow
from meetings.credentials import (
    MIN_PASSWORD_LENGTH,
    hash_password,
    needs_rehash,
    verify_password,
)
from meetings.errors import Conflict, InvalidInput, NotFound
from meetings.models import Account, Role, Unit


def _check_password_policy(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"password must have at least {MIN_PASSWORD_LENGTH} characters")


async def get_account(session: AsyncSession, account_id: int) -> Account:
    """Load an account or raise ``NotFound``."""
    account = await session.get(Account, account_id)
    if account is None:
        raise NotFound("account not found", account_id=account_id)
    return account


async def list_accounts(session: AsyncSession, unit_id: int | None = None) -> list[Account]:
    """Accounts ordered by username, optionally of one unit."""
    query = select(Account).order_by(Account.username)
    if unit_id is not None:
        query = query.where(Account.unit_id == unit_id)
    return list((await session.exec(query)).all())


async def create_account(
    session: AsyncSession,
    username: str,
    full_name: str,
    unit_id: int,
    role: Role,
    password: str,
) -> Account:
    """Create an account; usernames are case-insensitive and unique."""
    _check_password_policy(password)
    username = username.strip().lower()
    if await session.get(Unit, unit_id) is None:
        raise InvalidInput("unit does not exist", unit_id=unit_id)
    taken = await session.exec(select(Account.id).where(Account.username == username))
    if taken.first() is not None:
        raise Conflict("username already taken", username=username)
    account = Account(
        username=username,
        full_name=full_name.strip(),
        unit_id=unit_id,
        role=role.value,
        password_hash=await hash_password(password),
    )
    session.add(account)
    await session.flush()
    return account


async def update_account(
    session: AsyncSession,
    account_id: int,
    *,
    full_name: str | None = None,
    unit_id: int | None = None,
    role: Role | None = None,
    active: bool | None = None,
) -> Account:
    """Change profile, role or the active flag; the last active admin cannot be demoted."""
    account = await get_account(session, account_id)
    demoting = account.role == Role.ADMIN.value and (
        (role is not None and role is not Role.ADMIN) or active is False
    )
    if demoting and account.active and await count_active_admins(session) <= 1:
        raise Conflict("the last active administrator cannot be demoted or disabled")
    if unit_id is not None:
        if await session.get(Unit, unit_id) is None:
            raise InvalidInput("unit does not exist", unit_id=unit_id)
        account.unit_id = unit_id
    if full_name is not None:
        account.full_name = full_name.strip()
    if role is not None:
        account.role = role.value
    if active is not None:
        account.active = active
    session.add(account)
    await session.flush()
    return account


async def set_password(session: AsyncSession, account_id: int, password: str) -> Account:
    """Replace the password hash (admin reset or own change)."""
    _check_password_policy(password)
    account = await get_account(session, account_id)
    account.password_hash = await hash_password(password)
    account.password_changed_at = utcnow()
    session.add(account)
    await session.flush()
    return account


async def authenticate(session: AsyncSession, username: str, password: str) -> Account | None:
    """Return the active account for these credentials, or None (in constant-ish time)."""
    row = await session.exec(select(Account).where(Account.username == username.strip().lower()))
    account = row.first()
    stored = account.password_hash if account is not None else None
    if not await verify_password(stored, password) or account is None or not account.active:
        return None
    if needs_rehash(account.password_hash):
        account.password_hash = await hash_password(password)
        session.add(account)
    return account


async def count_active_admins(session: AsyncSession) -> int:
    """How many enabled administrator accounts exist."""
    query = select(func.count(col(Account.id))).where(
        Account.role == Role.ADMIN.value, col(Account.active).is_(True)
    )
    return int((await session.exec(query)).one())
