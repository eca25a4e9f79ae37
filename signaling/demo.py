"""``--demo``: a province with three communes, an account per role and a meeting live now.

The seeding is done by the system itself (``None`` actor, "system" in the audit log); the demo
meeting is scheduled by its chair.
"""

import sys
from dataclasses import dataclass, field

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from meetings import accounts, endpoints, scheduling, units
from meetings.actor import Actor, ActorKind
from meetings.clock import utcnow
from meetings.models import (
    Account,
    Endpoint,
    InviteeKind,
    Meeting,
    MeetingState,
    Role,
    Unit,
    UnitKind,
)
from signaling.api.convert import device_login_path

DEMO_CODE = "DEMO"
DEMO_PASSWORD = "phonghop-demo"  # only ever set by --demo, which is for trying the product out
DEMO_TITLE = "Giao ban trực tuyến (demo)"
_COMMUNES = ("Xã Hoành Bồ", "Xã Quảng La", "Xã Thống Nhất")
_PEOPLE = (
    ("chutri", "Nguyễn Văn Chủ Trì", Role.CHAIR),
    ("thuky", "Trần Thị Thư Ký", Role.SECRETARY),
    ("daibieu", "Lê Văn Đại Biểu", Role.DELEGATE),
    ("quansat", "Phạm Thị Quan Sát", Role.OBSERVER),
)


@dataclass
class DemoSeed:
    """What was seeded, for printing."""

    meeting_id: int
    logins: list[tuple[str, str]] = field(default_factory=list)
    devices: list[tuple[str, str]] = field(default_factory=list)


async def seed_demo(session: AsyncSession) -> DemoSeed:
    """Create the demo data once; later runs reuse it and issue fresh device tokens."""
    province = (await session.exec(select(Unit).where(Unit.code == DEMO_CODE))).first()
    if province is None:
        province = await units.create_unit(
            session, None, "Tỉnh Demo", UnitKind.PROVINCE, None, DEMO_CODE
        )
        district = await units.create_unit(
            session, None, "Huyện Demo", UnitKind.DISTRICT, province.id, f"{DEMO_CODE}-H1"
        )
        for i, name in enumerate(_COMMUNES, start=1):
            commune = await units.create_unit(
                session, None, name, UnitKind.COMMUNE, district.id, f"{DEMO_CODE}-X{i}"
            )
            await endpoints.create_endpoint(session, None, f"Điểm cầu {name}", commune.id or 0)
        for username, full_name, role in _PEOPLE:
            await accounts.create_account(
                session, None, username, full_name, province.id or 0, role, DEMO_PASSWORD
            )
    by_name = {a.username: a for a in (await session.exec(select(Account))).all()}
    chair, secretary = by_name["chutri"], by_name["thuky"]
    meeting = (
        await session.exec(
            select(Meeting).where(
                Meeting.title == DEMO_TITLE, Meeting.state != MeetingState.ENDED.value
            )
        )
    ).first()
    if meeting is None:
        actor = Actor(ActorKind.ACCOUNT, chair.id or 0, chair.unit_id, chair.full_name, Role.CHAIR)
        meeting = await scheduling.create_meeting(
            session, actor, DEMO_TITLE, utcnow(), chair.id or 0, secretary.id, "Cuộc họp mẫu"
        )
        await scheduling.invite(session, actor, meeting, [(InviteeKind.UNIT, province.id or 0)])
    if meeting.state == MeetingState.SCHEDULED.value:
        await scheduling.start_meeting(session, None, meeting)
    seed = DemoSeed(meeting_id=meeting.id or 0)
    seed.logins = [(u, DEMO_PASSWORD) for u, _, _ in _PEOPLE]
    demo_units = [
        u.id
        for u in (
            await session.exec(select(Unit).where(Unit.code.startswith(f"{DEMO_CODE}-X")))
        ).all()  # type: ignore[union-attr]
    ]
    for ep in (await session.exec(select(Endpoint).where(Endpoint.unit_id.in_(demo_units)))).all():  # type: ignore[attr-defined]
        _, token = await endpoints.issue_token(session, None, ep.id or 0)
        seed.devices.append((ep.name, token))
    return seed


def print_demo(seed: DemoSeed, base_url: str) -> None:
    """The URL and the demo logins, on the console."""
    lines = [
        "",
        f"  phonghop demo is running at {base_url}",
        f"  Live demo meeting: id {seed.meeting_id}",
        "  Accounts (username / password):",
        *[f"    {u:10s} {p}" for u, p in seed.logins],
        "  Commune endpoint devices (device login links, valid until reissued):",
        *[f"    {name}: {base_url}{device_login_path(token)}" for name, token in seed.devices],
        "",
    ]
    print("\n".join(lines), file=sys.stderr, flush=True)
