"""Endpoint devices: the token is shown once, only its SHA-256 is stored, reissue and revoke."""

import hashlib

import pytest
from sqlalchemy import text

from meetings import db, endpoints
from meetings.credentials import DEVICE_TOKEN_PREFIX
from meetings.errors import InvalidInput, NotFound


async def _raw_endpoint_row(engine, endpoint_id: int) -> dict:
    """The row as stored, read with plain SQL."""
    async with engine.connect() as conn:
        query = text("SELECT * FROM endpoint WHERE id = :id")
        row = (await conn.execute(query, {"id": endpoint_id})).one()
    return dict(row._mapping)


async def test_create_returns_the_token_once_and_stores_only_its_sha256(engine, sessions, org):
    async with db.transaction(sessions) as s:
        endpoint, token = await endpoints.create_endpoint(
            s, None, " Điểm cầu Xã Thanh Sơn ", org.commune
        )
    assert endpoint.id is not None and endpoint.name == "Điểm cầu Xã Thanh Sơn"
    assert token.startswith(DEVICE_TOKEN_PREFIX)
    assert len(token) >= len(DEVICE_TOKEN_PREFIX) + 43  # 256 random bits, base64url
    assert endpoint.token_issued_at is not None and endpoint.revoked_at is None

    row = await _raw_endpoint_row(engine, endpoint.id)
    assert row["token_hash"] == hashlib.sha256(token.encode()).hexdigest()
    # The token itself is nowhere in the row.
    assert all(token not in str(value) for value in row.values())

    # Reading the endpoint back never yields the token.
    async with sessions() as s:
        loaded = await endpoints.get_endpoint(s, endpoint.id)
        assert token not in repr(loaded.model_dump())
        found = await endpoints.authenticate_device(s, token)
        assert found is not None and found.id == endpoint.id


async def test_tokens_differ_between_endpoints(session, org):
    assert len(set(org.tokens.values())) == len(org.tokens)
    _, again = await endpoints.create_endpoint(session, None, "Another", org.commune)
    assert again not in org.tokens.values()


async def test_authenticate_device_rejects_unknown_and_malformed_tokens(session, org):
    token = org.tokens["thanhson"]
    assert await endpoints.authenticate_device(session, token + "x") is None
    assert await endpoints.authenticate_device(session, token[len(DEVICE_TOKEN_PREFIX) :]) is None
    # The stored digest is not a credential either.
    digest = hashlib.sha256(token.encode()).hexdigest()
    assert await endpoints.authenticate_device(session, digest) is None
    assert await endpoints.authenticate_device(session, DEVICE_TOKEN_PREFIX + digest) is None
    assert await endpoints.authenticate_device(session, "") is None


async def test_reissuing_invalidates_the_old_token(engine, sessions, org):
    endpoint = org.endpoints["thanhson"]
    old = org.tokens["thanhson"]
    async with db.transaction(sessions) as s:
        reissued, new = await endpoints.issue_token(s, None, endpoint.id)
    assert new != old and new.startswith(DEVICE_TOKEN_PREFIX)
    assert reissued.token_issued_at >= endpoint.token_issued_at
    async with sessions() as s:
        assert await endpoints.authenticate_device(s, old) is None
        found = await endpoints.authenticate_device(s, new)
        assert found is not None and found.id == endpoint.id
        # The other endpoints are untouched.
        other = await endpoints.authenticate_device(s, org.tokens["dondac"])
        assert other is not None and other.id == org.endpoints["dondac"].id
    row = await _raw_endpoint_row(engine, endpoint.id)
    assert row["token_hash"] == hashlib.sha256(new.encode()).hexdigest()


async def test_revoke_then_reissue(engine, sessions, org):
    endpoint = org.endpoints["quangla"]
    token = org.tokens["quangla"]
    async with db.transaction(sessions) as s:
        revoked = await endpoints.revoke_token(s, None, endpoint.id)
    assert revoked.token_hash is None and revoked.revoked_at is not None
    async with sessions() as s:
        assert await endpoints.authenticate_device(s, token) is None
    row = await _raw_endpoint_row(engine, endpoint.id)
    assert row["token_hash"] is None and row["revoked_at"] is not None

    # Several endpoints may be revoked at once: NULL digests never collide.
    async with db.transaction(sessions) as s:
        await endpoints.revoke_token(s, None, org.endpoints["dondac"].id)

    async with db.transaction(sessions) as s:
        reissued, fresh = await endpoints.issue_token(s, None, endpoint.id)
    assert reissued.revoked_at is None and reissued.token_hash is not None
    async with sessions() as s:
        assert await endpoints.authenticate_device(s, token) is None
        found = await endpoints.authenticate_device(s, fresh)
        assert found is not None and found.id == endpoint.id


async def test_unknown_endpoint_or_unit(session, org):
    with pytest.raises(InvalidInput):
        await endpoints.create_endpoint(session, None, "Nowhere", 999_999)
    with pytest.raises(NotFound):
        await endpoints.get_endpoint(session, 999_999)
    for change in (endpoints.issue_token, endpoints.revoke_token):
        with pytest.raises(NotFound):
            await change(session, None, 999_999)


async def test_list_endpoints(session, org):
    listed = await endpoints.list_endpoints(session)
    assert [e.id for e in listed] == sorted(e.id for e in org.endpoints.values())
    in_commune = await endpoints.list_endpoints(session, org.commune)
    assert [e.id for e in in_commune] == [org.endpoints["thanhson"].id]
    assert await endpoints.list_endpoints(session, org.district) == []
