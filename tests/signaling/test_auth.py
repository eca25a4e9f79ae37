"""Authentication: sessions with CSRF, bearer JWTs, device tokens, revocation, login limits."""

from collections.abc import AsyncIterator
from http.cookies import SimpleCookie
from typing import Any

import aiohttp
import jwt
import pytest
import socketio
from yarl import URL

from meetings.actor import ActorKind
from signaling.auth.tokens import AUDIENCE, ISSUER, TokenIssuer
from signaling.secrets_store import load_or_create_secret
from tests.harness import (
    ADMIN_PASSWORD,
    USER_PASSWORD,
    Api,
    Server,
    login_token,
    make_settings,
    sio_client,
    wait_for,
)
from tests.signaling.helpers_authz import (
    assert_error,
    assert_same_db,
    db_snapshot,
)

NEW_PASSWORD = "new-" + USER_PASSWORD


def plain_http() -> aiohttp.ClientSession:
    """A client that keeps no cookies (so only the credentials we pass count)."""
    return aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar())


async def seed(server: Server, http: aiohttp.ClientSession) -> dict[str, Any]:
    """A province, a commune, one delegate account and one endpoint, through the API."""
    admin = Api(
        server.url + "/api/v1", http, token=await login_token(server, "admin", ADMIN_PASSWORD)
    )
    _, me = await admin.get("/auth/me")
    status, province = await admin.post("/units", {"name": "Tỉnh Quảng Ninh", "kind": "province"})
    assert status == 201, province
    status, commune = await admin.post(
        "/units", {"name": "Xã Quảng La", "kind": "commune", "parent_id": province["id"]}
    )
    assert status == 201, commune
    status, user = await admin.post(
        "/accounts",
        {
            "username": "nguyenvana",
            "full_name": "Nguyễn Văn A",
            "unit_id": province["id"],
            "role": "delegate",
            "password": USER_PASSWORD,
        },
    )
    assert status == 201, user
    status, endpoint = await admin.post(
        "/endpoints", {"name": "Điểm cầu Quảng La", "unit_id": commune["id"]}
    )
    assert status == 201, endpoint
    return {
        "admin": admin,
        "admin_id": me["id"],
        "province": province["id"],
        "commune": commune["id"],
        "user": user,
        "endpoint": endpoint,
    }


def set_cookies(response: aiohttp.ClientResponse) -> dict[str, Any]:
    """The response's Set-Cookie headers, parsed, by name."""
    jar: dict[str, Any] = {}
    for header in response.headers.getall("Set-Cookie", []):
        cookie = SimpleCookie()
        cookie.load(header)
        for name, morsel in cookie.items():
            jar[name] = (morsel, header)
    return jar


async def watch(client: socketio.AsyncClient) -> list[str]:
    """Names of the events a client receives, in order, including its disconnection."""
    seen: list[str] = []

    async def on_any(event: str, data: Any = None) -> None:
        seen.append(event)

    async def on_disconnect(*args: Any) -> None:
        seen.append("disconnect")

    client.on("*", on_any)
    client.on("disconnect", on_disconnect)
    return seen


# ---- browser sessions and CSRF ------------------------------------------------------------


async def test_login_sets_httponly_session_and_readable_csrf_cookie(server):
    async with plain_http() as http:
        async with http.post(
            server.url + "/api/v1/auth/login",
            json={"username": "ADMIN ", "password": ADMIN_PASSWORD},
        ) as r:
            assert r.status == 200
            body = await r.json()
            cookies = set_cookies(r)
        session, _ = cookies["phonghop_session"]
        csrf, csrf_header = cookies["phonghop_csrf"]
        assert session.value and session["httponly"] and session["samesite"] == "Lax"
        assert session["path"] == "/" and int(session["max-age"]) > 0
        assert not session["secure"]  # cookie_secure is off in tests (no TLS)
        assert "HttpOnly" not in csrf_header and csrf["samesite"] == "Lax" and csrf["path"] == "/"
        assert csrf.value == body["csrf_token"]
        assert body["account"]["username"] == "admin" and body["token_type"] == "Bearer"
        assert body["expires_in"] > 0 and body["access_token"].count(".") == 2
        assert "password_hash" not in body["account"]

        # Wrong credentials: 401 and no cookie at all, whether or not the account exists.
        for username in ("admin", "nobody"):
            async with http.post(
                server.url + "/api/v1/auth/login",
                json={"username": username, "password": "wrong-pw-1"},
            ) as r:
                assert r.status == 401
                assert (await r.json())["error"]["code"] == "unauthenticated"
                assert not r.headers.getall("Set-Cookie", [])


async def test_secure_cookies_behind_tls(tmp_path, database_url):
    srv = Server(make_settings(tmp_path / "tls", database_url, cookie_secure=True))
    await srv.start()
    try:
        async with plain_http() as http:
            async with http.post(
                srv.url + "/api/v1/auth/login",
                json={"username": "admin", "password": ADMIN_PASSWORD},
            ) as r:
                assert r.status == 200
                cookies = set_cookies(r)
        assert cookies["phonghop_session"][0]["secure"] and cookies["phonghop_csrf"][0]["secure"]
    finally:
        await srv.stop()


async def test_cookie_session_needs_the_csrf_header_for_state_changes(server, http):
    base = server.url + "/api/v1"
    status, login = await Api(base, http).post(
        "/auth/login", {"username": "admin", "password": ADMIN_PASSWORD}
    )
    assert status == 200
    browser = Api(base, http)  # the cookie jar carries the session; no bearer token
    status, me = await browser.get("/auth/me")  # safe methods need no CSRF header
    assert status == 200 and me["username"] == "admin" and me["csrf_token"] == login["csrf_token"]

    before = await db_snapshot(server)
    unit = {"name": "Tỉnh Bắc Giang", "kind": "province"}
    status, body = await browser.post("/units", unit)
    assert_error(status, body, 403, "csrf_failed")
    status, body = await browser.post("/units", unit, headers={"X-CSRF-Token": "forged"})
    assert_error(status, body, 403, "csrf_failed")
    status, body = await browser.post("/units", unit, headers={"X-CSRF-Token": ""})
    assert_error(status, body, 403, "csrf_failed")
    status, body = await browser.patch(f"/accounts/{me['id']}", {"full_name": "Tên mới"})
    assert_error(status, body, 403, "csrf_failed")
    status, body = await browser.post("/auth/logout")
    assert_error(status, body, 403, "csrf_failed")
    assert_same_db(before, await db_snapshot(server), "requests without CSRF token")

    browser.csrf = login["csrf_token"]
    status, created = await browser.post("/units", unit)
    assert status == 201 and created["name"] == "Tỉnh Bắc Giang"

    # The same cookie works for socket.io.
    cookie = http.cookie_jar.filter_cookies(URL(server.url))["phonghop_session"].value
    client = socketio.AsyncClient(reconnection=False)
    await client.connect(
        server.url,
        headers={"Cookie": f"phonghop_session={cookie}"},
        transports=["websocket"],
        wait_timeout=5,
    )
    await client.disconnect()

    status, _ = await browser.post("/auth/logout")
    assert status == 204
    assert "phonghop_session" not in http.cookie_jar.filter_cookies(URL(server.url))
    status, body = await browser.get("/auth/me")
    assert_error(status, body, 401, "unauthenticated")
    # The old cookie value is dead on the server, not just forgotten by the browser.
    async with plain_http() as other:
        replay = Api(base, other, headers={"Cookie": f"phonghop_session={cookie}"})
        status, body = await replay.get("/auth/me")
        assert_error(status, body, 401, "unauthenticated")
    client = socketio.AsyncClient(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(
            server.url,
            headers={"Cookie": f"phonghop_session={cookie}"},
            transports=["websocket"],
            wait_timeout=5,
        )
    await client.disconnect()


# ---- bearer tokens --------------------------------------------------------------------------


async def test_bearer_jwt_needs_no_csrf_and_bad_tokens_get_401(server):
    token = await login_token(server, "admin", ADMIN_PASSWORD)
    base = server.url + "/api/v1"
    async with plain_http() as http:
        admin = Api(base, http, token=token)
        status, me = await admin.get("/auth/me")
        assert status == 200 and me["kind"] == "account" and me["csrf_token"] is None
        status, created = await admin.post("/units", {"name": "Tỉnh", "kind": "province"})
        assert status == 201, created  # no X-CSRF-Token needed
        status, fresh = await admin.post("/auth/refresh")
        assert status == 200 and fresh["expires_in"] > 0
        status, again = await Api(base, http, token=fresh["access_token"]).get("/auth/me")
        assert status == 200 and again["id"] == me["id"]

        secret = load_or_create_secret(server.settings.data_dir, server.settings.secret_key)
        expired = TokenIssuer(secret, -60).issue(ActorKind.ACCOUNT, me["id"])
        foreign = TokenIssuer("some-other-key-" + "x" * 40, 600).issue(ActorKind.ACCOUNT, me["id"])
        unknown_account = TokenIssuer(secret, 600).issue(ActorKind.ACCOUNT, 999_999)
        unsigned = jwt.encode(
            {
                "iss": ISSUER,
                "aud": AUDIENCE,
                "sub": f"account:{me['id']}",
                "iat": 1,
                "exp": 4_000_000_000,
            },
            None,
            algorithm="none",
        )
        wrong_audience = jwt.encode(
            {
                "iss": ISSUER,
                "aud": "elsewhere",
                "sub": f"account:{me['id']}",
                "iat": 1,
                "exp": 4_000_000_000,
            },
            secret,
            algorithm="HS256",
        )
        bad_headers = [
            f"Bearer {expired}",
            f"Bearer {foreign}",
            f"Bearer {unknown_account}",
            f"Bearer {unsigned}",
            f"Bearer {wrong_audience}",
            "Bearer garbage",
            f"Bearer {token[:-4]}AAAA",
            "Bearer ",
            f"Basic {token}",
            token,
        ]
        before = await db_snapshot(server)
        for header in bad_headers:
            api = Api(base, http, headers={"Authorization": header})
            status, body = await api.get("/auth/me")
            assert_error(status, body, 401, "unauthenticated")
            status, body = await api.post("/units", {"name": "Tỉnh khác", "kind": "province"})
            assert_error(status, body, 401, "unauthenticated")
        assert_same_db(before, await db_snapshot(server), "requests with bad bearer tokens")
        for bad in (expired, foreign, unsigned):
            with pytest.raises(socketio.exceptions.ConnectionError):
                await sio_client(server, bad)


# ---- device tokens ----------------------------------------------------------------------------


async def test_device_token_as_bearer_and_exchanged_for_a_jwt(server, http):
    s = await seed(server, http)
    base = server.url + "/api/v1"
    endpoint, device_token = s["endpoint"]["endpoint"], s["endpoint"]["token"]
    assert device_token.startswith("phd_") and s["endpoint"]["login_path"].endswith(device_token)
    async with plain_http() as plain:
        device = Api(base, plain, token=device_token)
        status, me = await device.get("/auth/me")
        assert status == 200
        assert (me["kind"], me["id"], me["unit_id"], me["role"]) == (
            "endpoint",
            endpoint["id"],
            s["commune"],
            None,
        )
        status, body = await device.get("/units")  # a device has no account role
        assert_error(status, body, 403, "forbidden")

        status, exchanged = await Api(base, plain).post("/auth/device", {"token": device_token})
        assert status == 200 and exchanged["token_type"] == "Bearer"
        status, me2 = await Api(base, plain, token=exchanged["access_token"]).get("/auth/me")
        assert status == 200 and me2["kind"] == "endpoint" and me2["id"] == endpoint["id"]
        status, refreshed = await Api(base, plain, token=exchanged["access_token"]).post(
            "/auth/refresh"
        )
        assert status == 200
        status, me3 = await Api(base, plain, token=refreshed["access_token"]).get("/auth/me")
        assert status == 200 and me3["id"] == endpoint["id"]

        for bad in ("phd_" + "x" * 43, "garbage", "phd_"):
            status, body = await Api(base, plain).post("/auth/device", {"token": bad})
            assert_error(status, body, 401, "unauthenticated")
        status, body = await Api(base, plain).post("/auth/device", {"token": "phd_" + "x" * 300})
        assert_error(status, body, 422, "validation_error")


async def test_revoking_a_device_token_ends_raw_token_jwts_and_live_sockets(server, http):
    s = await seed(server, http)
    base = server.url + "/api/v1"
    endpoint_id, device_token = s["endpoint"]["endpoint"]["id"], s["endpoint"]["token"]
    async with plain_http() as plain:
        status, exchanged = await Api(base, plain).post("/auth/device", {"token": device_token})
        assert status == 200
        device_jwt = exchanged["access_token"]
        raw_socket = await sio_client(server, device_token)
        jwt_socket = await sio_client(server, device_jwt)
        bystander = await sio_client(server, s["admin"].token)
        raw_seen, jwt_seen, bystander_seen = (
            await watch(raw_socket),
            await watch(jwt_socket),
            await watch(bystander),
        )

        status, revoked = await s["admin"].delete(f"/endpoints/{endpoint_id}/token")
        assert status == 200 and revoked["active"] is False

        await wait_for(lambda: not raw_socket.connected and not jwt_socket.connected)
        for seen in (raw_seen, jwt_seen):
            assert "session.revoked" in seen and "disconnect" in seen, seen
            assert seen.index("session.revoked") < seen.index("disconnect"), seen
        assert bystander.connected and "session.revoked" not in bystander_seen
        await bystander.disconnect()

        for credential in (device_token, device_jwt):
            status, body = await Api(base, plain, token=credential).get("/auth/me")
            assert_error(status, body, 401, "unauthenticated")
            with pytest.raises(socketio.exceptions.ConnectionError):
                await sio_client(server, credential)
        status, body = await Api(base, plain).post("/auth/device", {"token": device_token})
        assert_error(status, body, 401, "unauthenticated")

        # A new token brings the device back; nothing minted from the old one does.
        status, reissued = await s["admin"].post(f"/endpoints/{endpoint_id}/token")
        assert status == 200 and reissued["endpoint"]["active"] is True
        assert reissued["token"] != device_token
        status, me = await Api(base, plain, token=reissued["token"]).get("/auth/me")
        assert status == 200 and me["id"] == endpoint_id
        for credential in (device_token, device_jwt):
            status, body = await Api(base, plain, token=credential).get("/auth/me")
            assert_error(status, body, 401, "unauthenticated")
        # Reissuing again ends JWTs minted from the previous new token too.
        status, exchanged = await Api(base, plain).post(
            "/auth/device", {"token": reissued["token"]}
        )
        assert status == 200
        status, _ = await s["admin"].post(f"/endpoints/{endpoint_id}/token")
        assert status == 200
        for credential in (reissued["token"], exchanged["access_token"]):
            status, body = await Api(base, plain, token=credential).get("/auth/me")
            assert_error(status, body, 401, "unauthenticated")


# ---- passwords and accounts -------------------------------------------------------------------


async def _user_sessions(server: Server, user: dict[str, Any], http: aiohttp.ClientSession):
    """A cookie session (in ``http``'s jar), a bearer token and a live socket for the user."""
    base = server.url + "/api/v1"
    status, login = await Api(base, http).post(
        "/auth/login", {"username": user["username"], "password": USER_PASSWORD}
    )
    assert status == 200
    token = await login_token(server, user["username"], USER_PASSWORD)
    client = await sio_client(server, token)
    return Api(base, http, csrf=login["csrf_token"]), token, client


async def _assert_logged_out(server: Server, cookie_api: Api, token: str, client, seen) -> None:
    status, body = await cookie_api.get("/auth/me")
    assert_error(status, body, 401, "unauthenticated")
    async with plain_http() as plain:
        status, body = await Api(server.url + "/api/v1", plain, token=token).get("/auth/me")
        assert_error(status, body, 401, "unauthenticated")
    await wait_for(lambda: not client.connected)
    assert "session.revoked" in seen
    with pytest.raises(socketio.exceptions.ConnectionError):
        await sio_client(server, token)


async def _session_rows(server: Server, account_id: int) -> int:
    snapshot = await db_snapshot(server)
    account_col = 2  # auth_session: id, token_hash, account_id, ...
    return sum(1 for row in snapshot["auth_session"] if row[account_col] == account_id)


async def test_changing_ones_password_ends_every_session(server, http):
    s = await seed(server, http)
    user = s["user"]
    cookie_api, token, client = await _user_sessions(server, user, http)
    seen = await watch(client)
    assert await _session_rows(server, user["id"]) == 2

    before = await db_snapshot(server)
    status, body = await cookie_api.post(
        "/auth/password", {"current_password": "not-my-password", "new_password": NEW_PASSWORD}
    )
    assert_error(status, body, 401, "unauthenticated")
    status, body = await cookie_api.post(
        "/auth/password", {"current_password": USER_PASSWORD, "new_password": "short"}
    )
    assert_error(status, body, 422, "invalid_input")
    status, body = await cookie_api.post(
        "/auth/password",
        {"current_password": USER_PASSWORD, "new_password": NEW_PASSWORD},
        headers={"X-CSRF-Token": "forged"},
    )
    assert_error(status, body, 403, "csrf_failed")
    assert_same_db(before, await db_snapshot(server), "refused password changes")
    assert client.connected

    status, _ = await cookie_api.post(
        "/auth/password", {"current_password": USER_PASSWORD, "new_password": NEW_PASSWORD}
    )
    assert status == 204
    await _assert_logged_out(server, cookie_api, token, client, seen)
    assert await _session_rows(server, user["id"]) == 0

    async with plain_http() as plain:
        anon = Api(server.url + "/api/v1", plain)
        status, body = await anon.post(
            "/auth/login", {"username": user["username"], "password": USER_PASSWORD}
        )
        assert_error(status, body, 401, "unauthenticated")
        status, _ = await anon.post(
            "/auth/login", {"username": user["username"], "password": NEW_PASSWORD}
        )
        assert status == 200
    # An endpoint has no password to change.
    async with plain_http() as plain:
        device = Api(server.url + "/api/v1", plain, token=s["endpoint"]["token"])
        status, body = await device.post(
            "/auth/password", {"current_password": USER_PASSWORD, "new_password": NEW_PASSWORD}
        )
        assert_error(status, body, 403, "forbidden")


async def test_admin_password_reset_ends_every_session(server, http):
    s = await seed(server, http)
    user = s["user"]
    cookie_api, token, client = await _user_sessions(server, user, http)
    seen = await watch(client)

    status, reset = await s["admin"].post(f"/accounts/{user['id']}/password")
    assert status == 200 and len(reset["password"]) >= 10
    await _assert_logged_out(server, cookie_api, token, client, seen)
    assert await _session_rows(server, user["id"]) == 0
    async with plain_http() as plain:
        anon = Api(server.url + "/api/v1", plain)
        status, _ = await anon.post(
            "/auth/login", {"username": user["username"], "password": USER_PASSWORD}
        )
        assert status == 401
        status, _ = await anon.post(
            "/auth/login", {"username": user["username"], "password": reset["password"]}
        )
        assert status == 200
    # An explicit new password works the same way.
    status, reset = await s["admin"].post(
        f"/accounts/{user['id']}/password", {"new_password": NEW_PASSWORD}
    )
    assert status == 200 and reset["password"] == NEW_PASSWORD
    assert await _session_rows(server, user["id"]) == 0


async def test_disabled_account_cannot_log_in_and_loses_its_sessions(server, http):
    s = await seed(server, http)
    user = s["user"]
    cookie_api, token, client = await _user_sessions(server, user, http)
    seen = await watch(client)

    status, patched = await s["admin"].patch(f"/accounts/{user['id']}", {"active": False})
    assert status == 200 and patched["active"] is False
    await _assert_logged_out(server, cookie_api, token, client, seen)
    async with plain_http() as plain:
        anon = Api(server.url + "/api/v1", plain)
        status, body = await anon.post(
            "/auth/login", {"username": user["username"], "password": USER_PASSWORD}
        )
        assert_error(status, body, 401, "unauthenticated")
        assert body["error"]["message"] == "wrong username or password"  # no hint it exists

        status, patched = await s["admin"].patch(f"/accounts/{user['id']}", {"active": True})
        assert status == 200 and patched["active"] is True
        status, _ = await anon.post(
            "/auth/login", {"username": user["username"], "password": USER_PASSWORD}
        )
        assert status == 200


async def test_the_last_active_admin_cannot_be_demoted(server, http):
    s = await seed(server, http)
    admin: Api = s["admin"]
    admin_id = s["admin_id"]
    before = await db_snapshot(server)
    for change in ({"role": "chair"}, {"active": False}, {"role": "delegate", "active": True}):
        status, body = await admin.patch(f"/accounts/{admin_id}", change)
        assert_error(status, body, 409, "conflict")
    assert_same_db(before, await db_snapshot(server), "refused admin demotions")
    # Renaming is fine.
    status, body = await admin.patch(
        f"/accounts/{admin_id}", {"full_name": "Quản trị", "role": "admin"}
    )
    assert status == 200 and body["role"] == "admin"

    status, second = await admin.post(
        "/accounts",
        {
            "username": "admin2",
            "full_name": "Quản trị 2",
            "unit_id": s["province"],
            "role": "admin",
            "password": USER_PASSWORD,
        },
    )
    assert status == 201
    # A disabled administrator does not count as the other one.
    status, _ = await admin.patch(f"/accounts/{second['id']}", {"active": False})
    assert status == 200
    status, body = await admin.patch(f"/accounts/{admin_id}", {"role": "chair"})
    assert_error(status, body, 409, "conflict")
    status, _ = await admin.patch(f"/accounts/{second['id']}", {"active": True})
    assert status == 200

    admin2 = Api(
        server.url + "/api/v1", http, token=await login_token(server, "admin2", USER_PASSWORD)
    )
    status, demoted = await admin2.patch(f"/accounts/{admin_id}", {"role": "chair"})
    assert status == 200 and demoted["role"] == "chair"
    # The old token now carries a chair's rights, read from the database at each request.
    status, body = await admin.post("/units", {"name": "Tỉnh", "kind": "province"})
    assert_error(status, body, 403, "forbidden")
    status, body = await admin2.patch(f"/accounts/{second['id']}", {"role": "chair"})
    assert_error(status, body, 409, "conflict")


# ---- login limits -----------------------------------------------------------------------------


@pytest.fixture
async def limited_server(tmp_path, database_url) -> AsyncIterator[Server]:
    """Low login limits; addresses come from X-Real-IP (as behind nginx)."""
    settings = make_settings(
        tmp_path / "limited",
        database_url,
        trust_proxy=True,
        login_max_per_account=3,
        login_max_per_address=5,
    )
    srv = Server(settings)
    await srv.start()
    try:
        yield srv
    finally:
        await srv.stop()


async def test_login_is_limited_per_account_and_per_address(limited_server):
    srv = limited_server
    async with plain_http() as http:
        s = await seed(srv, http)  # one admin login from 127.0.0.1
        base = srv.url + "/api/v1"

        async def login(username: str, password: str, address: str) -> tuple[int, Any]:
            return await Api(base, http, headers={"X-Real-IP": address}).post(
                "/auth/login", {"username": username, "password": password}
            )

        user = s["user"]["username"]
        # Per account: three failures lock the account, from any address, even with the password.
        for _ in range(3):
            status, _ = await login(user, "wrong-password", "203.0.113.1")
            assert status == 401
        status, body = await login(user, USER_PASSWORD, "203.0.113.1")
        assert_error(status, body, 429, "rate_limited")
        status, body = await login(user.upper(), USER_PASSWORD, "203.0.113.2")
        assert_error(status, body, 429, "rate_limited")
        # ...but not other accounts.
        status, _ = await login("admin", ADMIN_PASSWORD, "203.0.113.2")
        assert status == 200

        # A success clears the account's failures.
        status, _ = await s["admin"].post(
            "/accounts",
            {
                "username": "tranthib",
                "full_name": "Trần Thị B",
                "unit_id": s["province"],
                "role": "observer",
                "password": USER_PASSWORD,
            },
        )
        assert status == 201
        for address in ("203.0.113.10", "203.0.113.11"):
            status, _ = await login("tranthib", "wrong-password", address)
            assert status == 401
        status, _ = await login("tranthib", USER_PASSWORD, "203.0.113.12")
        assert status == 200
        for address in ("203.0.113.13", "203.0.113.14"):
            status, _ = await login("tranthib", "wrong-password", address)
            assert status == 401
        status, _ = await login("tranthib", USER_PASSWORD, "203.0.113.15")
        assert status == 200

        # Per address: five attempts on any accounts, then even a right password is refused there.
        for i in range(5):
            status, _ = await login(f"guess{i}", "wrong-password", "203.0.113.50")
            assert status == 401
        status, body = await login("tranthib", USER_PASSWORD, "203.0.113.50")
        assert_error(status, body, 429, "rate_limited")
        status, _ = await login("tranthib", USER_PASSWORD, "203.0.113.51")
        assert status == 200

        before = await db_snapshot(srv)
        status, body = await login(user, USER_PASSWORD, "203.0.113.1")
        assert_error(status, body, 429, "rate_limited")
        assert_same_db(before, await db_snapshot(srv), "a rate-limited login")


async def test_device_login_is_limited_per_address_without_locking_out_other_devices(
    limited_server,
):
    srv = limited_server
    async with plain_http() as http:
        s = await seed(srv, http)
        base = srv.url + "/api/v1"
        token = s["endpoint"]["token"]

        async def device_login(credential: str, address: str) -> tuple[int, Any]:
            return await Api(base, http, headers={"X-Real-IP": address}).post(
                "/auth/device", {"token": credential}
            )

        for _ in range(5):
            status, _ = await device_login("phd_" + "x" * 43, "203.0.113.60")
            assert status == 401
        status, body = await device_login(token, "203.0.113.60")
        assert_error(status, body, 429, "rate_limited")
        # Guessing from one address must not lock every commune's device out.
        status, body = await device_login(token, "203.0.113.61")
        assert status == 200, body
