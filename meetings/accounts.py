"""Accounts: people who log in, with one installation-wide role."""

from enum import Enum
from typing import Final, Literal

from email_validator import EmailNotValidError, validate_email
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from meetings import audit
from meetings.actor import Actor, ActorKind
from meetings.clock import utcnow
from meetings.credentials import (
    MIN_PASSWORD_LENGTH,
    hash_password,
    needs_rehash,
    verify_password,
)
from meetings.errors import Conflict, InvalidInput, NotFound
from meetings.models import Account, Role, Unit


class _Keep(Enum):
    KEEP = "keep"


KEEP: Final = _Keep.KEEP
"""``update_account(email=KEEP)``: leave the address as it is (``None`` removes it)."""

# Never the password hash: the log is read by auditors, the hash is a secret.
_SNAPSHOT_FIELDS = {"id", "username", "full_name", "unit_id", "role", "active", "email"}


def snapshot(account: Account) -> dict[str, object]:
    """What the audit log records of an account (no password, no hash)."""
    return account.model_dump(mode="json", include=_SNAPSHOT_FIELDS)


def normalise_email(value: str | None) -> str | None:
    """A syntactically valid address (domain lower-cased, IDN normalised), or None if empty.

    Deliverability (DNS) is not checked: closed government networks often have no public DNS.
    """
    if value is None or not value.strip():
        return None
    try:
        return validate_email(value.strip(), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise InvalidInput(f"invalid e-mail address: {exc}") from None


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
    actor: Actor | None,
    username: str,
    full_name: str,
    unit_id: int,
    role: Role,
    password: str,
    email: str | None = None,
) -> Account:
    """Create an account; usernames are case-insensitive and unique; the e-mail is optional."""
    _check_password_policy(password)
    email = normalise_email(email)
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
        email=email,
    )
    session.add(account)
    await session.flush()
    await audit.append(
        session, actor, "account.created", "account", account.id, after=snapshot(account)
    )
    return account


async def update_account(
    session: AsyncSession,
    actor: Actor | None,
    account_id: int,
    *,
    full_name: str | None = None,
    unit_id: int | None = None,
    role: Role | None = None,
    active: bool | None = None,
    email: str | Literal[_Keep.KEEP] | None = KEEP,
) -> Account:
    """Change profile, e-mail, role or the active flag; the last active admin cannot be demoted.

    ``email=None`` (or an empty string) removes the address; leaving it out keeps it.
    """
    new_email = normalise_email(email) if email is not KEEP else KEEP
    account = await get_account(session, account_id)
    before = snapshot(account)
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
    if new_email is not KEEP:
        account.email = new_email
    session.add(account)
    await session.flush()
    after = snapshot(account)
    if after != before:
        await audit.append(
            session, actor, "account.updated", "account", account.id, before=before, after=after
        )
    return account


async def set_password(
    session: AsyncSession, actor: Actor | None, account_id: int, password: str
) -> Account:
    """Replace the password hash (an own change, or a reset by an administrator or the CLI).

    The audit entry records when, never the password or its hash.
    """
    _check_password_policy(password)
    account = await get_account(session, account_id)
    before = {"password_changed_at": account.password_changed_at.isoformat()}
    account.password_hash = await hash_password(password)
    account.password_changed_at = utcnow()
    session.add(account)
    await session.flush()
    own = actor is not None and actor.kind is ActorKind.ACCOUNT and actor.id == account.id
    await audit.append(
        session,
        actor,
        "account.password_changed" if own else "account.password_reset",
        "account",
        account.id,
        before=before,
        after={"password_changed_at": account.password_changed_at.isoformat()},
    )
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
