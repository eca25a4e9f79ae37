"""First start: the root unit and an administrator whose password is printed once."""

import sys

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from meetings import accounts, units
from meetings.credentials import generate_password
from meetings.models import Account, Role, Unit, UnitKind
from signaling.logs import get_logger

log = get_logger("phonghop.bootstrap")
ADMIN_USERNAME = "admin"


async def ensure_admin(session: AsyncSession, password: str | None) -> str | None:
    """Create an administrator if none exists; return the password if it was generated."""
    if (
        await session.exec(select(Account.id).where(Account.role == Role.ADMIN.value).limit(1))
    ).first():
        return None
    root = (await session.exec(select(Unit).where(Unit.parent_id == None).limit(1))).first()  # noqa: E711
    if root is None:
        root = await units.create_unit(session, None, "Tỉnh", UnitKind.PROVINCE, None, None)
    generated = None if password else generate_password()
    await accounts.create_account(
        session,
        None,  # the system itself, on first start
        ADMIN_USERNAME,
        "Quản trị hệ thống",
        root.id or 0,
        Role.ADMIN,
        password or generated or "",
    )
    log.info(
        "bootstrap.admin_created", username=ADMIN_USERNAME, password_generated=generated is not None
    )
    return generated


def print_admin_password(password: str) -> None:
    """Shown once on the console, never logged."""
    print(
        f"\n  phonghop: first start. Administrator account created:\n"
        f"    username: {ADMIN_USERNAME}\n    password: {password}\n"
        f"  Write it down now; it is not stored anywhere in clear text.\n",
        file=sys.stderr,
        flush=True,
    )
