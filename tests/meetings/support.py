"""Seed data for the domain tests, built with the domain services over a real session."""

from dataclasses import dataclass, field

from argon2 import PasswordHasher
from sqlmodel.ext.asyncio.session import AsyncSession

from meetings import endpoints, units
from meetings.actor import Actor, ActorKind
from meetings.models import Account, Endpoint, Role, UnitKind

PASSWORD = "correct horse battery"
# Hashing is deliberately slow; seed accounts share one real argon2id hash of PASSWORD.
_SEED_HASH = PasswordHasher().hash(PASSWORD)


def account_actor(account: Account) -> Actor:
    """The domain's view of an account (as signaling builds it)."""
    return Actor(
        ActorKind.ACCOUNT, account.id or 0, account.unit_id, account.full_name, Role(account.role)
    )


def endpoint_actor(endpoint: Endpoint) -> Actor:
    """The domain's view of an endpoint device."""
    return Actor(ActorKind.ENDPOINT, endpoint.id or 0, endpoint.unit_id, endpoint.name)


@dataclass
class Org:
    """Ids of the seeded tree::

    Quảng Ninh (province) ─┬─ Ba Chẽ (district) ─┬─ Thanh Sơn (commune)
                           │                     └─ Đồn Đạc (commune)
                           └─ Quảng La (commune, directly under the province)
    Lạng Sơn (province) ──── Bắc Sơn (commune)
    """

    province: int
    district: int
    commune: int  # Thanh Sơn, under the district
    sibling: int  # Đồn Đạc, under the same district
    direct: int  # Quảng La, directly under the province
    other_province: int
    other_commune: int
    accounts: dict[str, Account] = field(default_factory=dict)
    endpoints: dict[str, Endpoint] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)

    def actor(self, name: str) -> Actor:
        """An account's or endpoint's actor, by seed name."""
        if name in self.accounts:
            return account_actor(self.accounts[name])
        return endpoint_actor(self.endpoints[name])


async def add_account(
    session: AsyncSession,
    username: str,
    unit_id: int,
    role: Role,
    active: bool = True,
    email: str | None = None,
) -> Account:
    """An account row with the shared seed hash (``accounts.create_account`` is tested itself)."""
    account = Account(
        username=username,
        full_name=f"Người {username}",
        unit_id=unit_id,
        role=role.value,
        password_hash=_SEED_HASH,
        active=active,
        email=email,
    )
    session.add(account)
    await session.flush()
    return account


async def build_org(session: AsyncSession) -> Org:
    """Create the tree above, one account per role and endpoints in three communes."""
    qn = await units.create_unit(session, None, "Tỉnh Quảng Ninh", UnitKind.PROVINCE, None, "QN")
    bache = await units.create_unit(
        session, None, "Huyện Ba Chẽ", UnitKind.DISTRICT, qn.id, "QN-BC"
    )
    thanhson = await units.create_unit(
        session, None, "Xã Thanh Sơn", UnitKind.COMMUNE, bache.id, None
    )
    dondac = await units.create_unit(session, None, "Xã Đồn Đạc", UnitKind.COMMUNE, bache.id, None)
    quangla = await units.create_unit(session, None, "Xã Quảng La", UnitKind.COMMUNE, qn.id, None)
    ls = await units.create_unit(session, None, "Tỉnh Lạng Sơn", UnitKind.PROVINCE, None, "LS")
    bacson = await units.create_unit(session, None, "Xã Bắc Sơn", UnitKind.COMMUNE, ls.id, None)
    org = Org(
        province=qn.id or 0,
        district=bache.id or 0,
        commune=thanhson.id or 0,
        sibling=dondac.id or 0,
        direct=quangla.id or 0,
        other_province=ls.id or 0,
        other_commune=bacson.id or 0,
    )
    for username, unit_id, role in (
        ("admin", org.province, Role.ADMIN),
        ("chair", org.province, Role.CHAIR),
        ("secretary", org.province, Role.SECRETARY),
        ("delegate", org.commune, Role.DELEGATE),  # in Thanh Sơn
        ("district_delegate", org.district, Role.DELEGATE),
        ("observer", org.province, Role.OBSERVER),
        ("outsider", org.other_commune, Role.DELEGATE),  # in Lạng Sơn
        ("other_chair", org.other_province, Role.CHAIR),
    ):
        org.accounts[username] = await add_account(session, username, unit_id, role)
    for name, unit_id in (
        ("thanhson", org.commune),
        ("dondac", org.sibling),
        ("quangla", org.direct),
        ("bacson", org.other_commune),
    ):
        endpoint, token = await endpoints.create_endpoint(
            session, None, f"Điểm cầu {name}", unit_id
        )
        org.endpoints[name] = endpoint
        org.tokens[name] = token
    return org
