"""Accounts: unique case-insensitive usernames, password policy, argon2, last-admin rule."""

import pytest
from argon2 import PasswordHasher
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from meetings import accounts, db
from meetings.credentials import MIN_PASSWORD_LENGTH, needs_rehash
from meetings.errors import Conflict, InvalidInput, NotFound
from meetings.models import Account, Role
from tests.meetings.support import PASSWORD, add_account

NEW_PASSWORD = "Mật khẩu mới 2026"


async def test_create_account_stores_an_argon2_hash_not_the_password(engine, sessions, org):
    async with db.transaction(sessions) as s:
        created = await accounts.create_account(
            s, None, "  NguyenVanA ", " Nguyễn Văn A ", org.commune, Role.DELEGATE, NEW_PASSWORD
        )
    assert created.id is not None
    assert created.username == "nguyenvana"  # trimmed and lower-cased
    assert created.full_name == "Nguyễn Văn A"
    assert created.role == "delegate" and created.active is True

    async with engine.connect() as conn:
        query = text("SELECT username, password_hash FROM account WHERE id = :id")
        raw = (await conn.execute(query, {"id": created.id})).one()
    assert raw.username == "nguyenvana"
    assert raw.password_hash.startswith("$argon2id$")
    assert NEW_PASSWORD not in raw.password_hash
    assert PasswordHasher().verify(raw.password_hash, NEW_PASSWORD)


async def test_usernames_are_unique_ignoring_case(session, org):
    await accounts.create_account(
        session, None, "tranthib", "Trần Thị B", org.province, Role.CHAIR, PASSWORD
    )
    for taken in ("tranthib", "TranThiB", " TRANTHIB "):
        with pytest.raises(Conflict):
            await accounts.create_account(
                session, None, taken, "Someone else", org.province, Role.DELEGATE, PASSWORD
            )
    assert [a.username for a in await accounts.list_accounts(session)].count("tranthib") == 1


async def test_the_database_rejects_a_duplicate_username(sessions, org):
    async with sessions() as s:
        s.add(
            Account(
                username="chair",  # seeded already
                full_name="Duplicate",
                unit_id=org.province,
                role="chair",
                password_hash="x",
            )
        )
        with pytest.raises(IntegrityError):
            await s.flush()


@pytest.mark.parametrize("password", ["", "short", "x" * (MIN_PASSWORD_LENGTH - 1)])
async def test_password_policy_on_create_and_on_set(session, org, password):
    with pytest.raises(InvalidInput):
        await accounts.create_account(
            session, None, "weak", "Weak", org.province, Role.DELEGATE, password
        )
    with pytest.raises(InvalidInput):
        await accounts.set_password(session, None, org.accounts["delegate"].id, password)
    assert "weak" not in [a.username for a in await accounts.list_accounts(session)]


async def test_exactly_the_minimum_length_is_accepted(session, org):
    account = await accounts.create_account(
        session, None, "minimum", "Min", org.province, Role.DELEGATE, "x" * MIN_PASSWORD_LENGTH
    )
    assert account.id is not None


async def test_account_needs_an_existing_unit(session):
    with pytest.raises(InvalidInput):
        await accounts.create_account(
            session, None, "nounit", "No Unit", 999, Role.DELEGATE, PASSWORD
        )


async def test_authenticate_ok_wrong_unknown_and_disabled(sessions, org):
    async with db.transaction(sessions) as s:
        ok = await accounts.authenticate(s, "delegate", PASSWORD)
        assert ok is not None and ok.id == org.accounts["delegate"].id
        # Usernames match whatever the case and surrounding blanks.
        again = await accounts.authenticate(s, " DeLeGaTe ", PASSWORD)
        assert again is not None and again.id == ok.id
        assert await accounts.authenticate(s, "delegate", PASSWORD + "!") is None
        assert await accounts.authenticate(s, "delegate", "") is None
        assert await accounts.authenticate(s, "nobody", PASSWORD) is None
        await accounts.update_account(s, None, org.accounts["delegate"].id, active=False)
    async with sessions() as s:
        assert await accounts.authenticate(s, "delegate", PASSWORD) is None


async def test_authenticate_rehashes_weak_hashes(sessions, org):
    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PASSWORD)
    assert needs_rehash(weak)
    async with db.transaction(sessions) as s:
        account = await add_account(s, "legacy", org.province, Role.DELEGATE)
        account.password_hash = weak
        s.add(account)
    async with db.transaction(sessions) as s:
        assert await accounts.authenticate(s, "legacy", PASSWORD) is not None
    async with sessions() as s:
        stored = (await accounts.get_account(s, account.id)).password_hash
        assert stored != weak and not needs_rehash(stored)
        assert stored.startswith("$argon2id$")
        # The same password still works with the new hash, and nothing changes now.
        assert await accounts.authenticate(s, "legacy", PASSWORD) is not None
        assert (await accounts.get_account(s, account.id)).password_hash == stored
    # A failed login never rehashes.
    async with db.transaction(sessions) as s:
        other = await add_account(s, "legacy2", org.province, Role.DELEGATE)
        other.password_hash = weak
        s.add(other)
    async with db.transaction(sessions) as s:
        assert await accounts.authenticate(s, "legacy2", "wrong password") is None
    async with sessions() as s:
        assert (await accounts.get_account(s, other.id)).password_hash == weak


async def test_set_password_replaces_the_hash_and_stamps_the_change(sessions, org):
    delegate = org.accounts["delegate"]
    async with db.transaction(sessions) as s:
        changed = await accounts.set_password(s, None, delegate.id, NEW_PASSWORD)
    assert changed.password_changed_at > delegate.password_changed_at
    assert changed.password_changed_at.tzinfo is not None
    async with sessions() as s:
        assert await accounts.authenticate(s, "delegate", PASSWORD) is None
        assert await accounts.authenticate(s, "delegate", NEW_PASSWORD) is not None
    with pytest.raises(NotFound):
        async with sessions() as s:
            await accounts.set_password(s, None, 999_999, NEW_PASSWORD)


async def test_update_account(session, org):
    delegate = org.accounts["delegate"]
    updated = await accounts.update_account(
        session, None, delegate.id, full_name="  Lê Văn C ", unit_id=org.direct, role=Role.SECRETARY
    )
    assert (updated.full_name, updated.unit_id, updated.role) == (
        "Lê Văn C",
        org.direct,
        "secretary",
    )
    with pytest.raises(InvalidInput):
        await accounts.update_account(session, None, delegate.id, unit_id=999_999)
    with pytest.raises(NotFound):
        await accounts.update_account(session, None, 999_999, full_name="x")


async def test_list_accounts_by_unit(session, org):
    everyone = await accounts.list_accounts(session)
    assert [a.username for a in everyone] == sorted(org.accounts)
    in_commune = await accounts.list_accounts(session, org.commune)
    assert [a.username for a in in_commune] == ["delegate"]


async def test_the_last_active_admin_cannot_be_demoted_or_disabled(sessions, org):
    admin = org.accounts["admin"]
    async with sessions() as s:
        assert await accounts.count_active_admins(s) == 1
        with pytest.raises(Conflict):
            await accounts.update_account(s, None, admin.id, role=Role.CHAIR)
        with pytest.raises(Conflict):
            await accounts.update_account(s, None, admin.id, active=False)
        # Harmless changes to the last admin are fine.
        same = await accounts.update_account(
            s, None, admin.id, role=Role.ADMIN, full_name="Quản trị"
        )
        assert same.role == "admin" and same.active

    # With a second active admin, one of them may go; then the other is the last one again.
    async with db.transaction(sessions) as s:
        second = await accounts.update_account(s, None, org.accounts["chair"].id, role=Role.ADMIN)
        assert await accounts.count_active_admins(s) == 2
        await accounts.update_account(s, None, admin.id, active=False)
        assert await accounts.count_active_admins(s) == 1
        with pytest.raises(Conflict):
            await accounts.update_account(s, None, second.id, role=Role.DELEGATE)

    # A disabled admin does not count, and may itself be demoted.
    async with db.transaction(sessions) as s:
        await accounts.update_account(s, None, admin.id, role=Role.OBSERVER)
        assert await accounts.count_active_admins(s) == 1
        with pytest.raises(Conflict):
            await accounts.update_account(s, None, second.id, active=False)
