"""ICE servers for clients: TURN REST credentials (checked by a real coturn), settings, endpoint."""

import asyncio
import base64
import hashlib
import hmac
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection
from aiortc.rtcconfiguration import RTCIceTransportPolicy
from aiortc.sdp import candidate_from_sdp
from pydantic import ValidationError

from media.ports import MediaNetwork, PortRange, bind_rtc_ports
from signaling.ice import ice_servers_for, media_network, turn_credentials
from signaling.settings import Settings
from tests.harness import Api, Server, build_world, make_settings

TURNSERVER = shutil.which("turnserver")
WAIT = 20  # seconds; a guard against hangs, not a performance threshold


# ---- credentials ----------------------------------------------------------------------------


def test_credentials_are_coturn_rest_api_hmac_sha1_of_expiry_and_principal():
    username, credential = turn_credentials("s3cret", "account:7", 3600, now=1_700_000_000.9)
    assert username == "1700003600:account:7"
    expected = hmac.new(b"s3cret", b"1700003600:account:7", hashlib.sha1).digest()
    assert base64.b64decode(credential) == expected
    # The same vector computed with `openssl dgst -sha1 -hmac s3cret -binary | base64`.
    assert credential == "99f3HhfBAvrSupeLgRQz9zbQO7M="


def test_credentials_default_to_the_current_time():
    before = int(time.time())
    username, _ = turn_credentials("s3cret", "endpoint:12", 600)
    expiry = int(username.split(":", 1)[0])
    assert before + 600 <= expiry <= int(time.time()) + 600
    assert username.endswith(":endpoint:12")


@pytest.mark.parametrize("secret, ttl", [("", 60), ("s3cret", 0), ("s3cret", -5)])
def test_credentials_refuse_an_empty_secret_or_a_lifetime_that_is_not_positive(secret, ttl):
    with pytest.raises(ValueError):
        turn_credentials(secret, "account:1", ttl)


def test_no_ice_servers_by_default():
    assert ice_servers_for(Settings(), "account:1") == []


def test_ice_servers_give_stun_as_is_and_turn_with_fresh_credentials():
    settings = Settings(
        ice_servers=["stun:stun.tinh.gov.vn:3478"],
        turn_urls=["turn:turn.tinh.gov.vn:3478?transport=udp", "turns:turn.tinh.gov.vn:5349"],
        turn_secret="s3cret",
        turn_ttl_seconds=7200,
    )
    servers = ice_servers_for(settings, "account:7", now=1_700_000_000)
    assert servers[0] == {"urls": ["stun:stun.tinh.gov.vn:3478"]}
    username, credential = turn_credentials("s3cret", "account:7", 7200, now=1_700_000_000)
    assert servers[1] == {
        "urls": ["turn:turn.tinh.gov.vn:3478?transport=udp", "turns:turn.tinh.gov.vn:5349"],
        "username": username,
        "credential": credential,
    }
    assert username == "1700007200:account:7"


# ---- settings -------------------------------------------------------------------------------


def test_media_settings_defaults():
    settings = Settings()
    assert (settings.media_udp_port_min, settings.media_udp_port_max) == (40000, 49999)
    assert settings.turn_ttl_seconds == 12 * 3600
    network = media_network(settings)
    assert network.port_range == PortRange(40000, 49999)
    assert network.bind_addresses is None and network.announced_address is None


def test_media_settings_both_ports_none_means_ephemeral():
    settings = Settings(media_udp_port_min=None, media_udp_port_max=None)
    assert media_network(settings).port_range is None


def test_media_and_ice_settings_from_the_environment(monkeypatch):
    monkeypatch.setenv("PHONGHOP_ICE_SERVERS", "stun:a.example:3478, stun:[2001:db8::1]")
    monkeypatch.setenv("PHONGHOP_TURN_URLS", '["turn:t.example?transport=tcp"]')
    monkeypatch.setenv("PHONGHOP_TURN_SECRET", "s3cret")
    monkeypatch.setenv("PHONGHOP_MEDIA_UDP_PORT_MIN", "50000")
    monkeypatch.setenv("PHONGHOP_MEDIA_UDP_PORT_MAX", "50999")
    monkeypatch.setenv("PHONGHOP_MEDIA_BIND_ADDRESSES", "10.0.0.5,127.0.0.1")
    monkeypatch.setenv("PHONGHOP_MEDIA_ANNOUNCED_ADDRESS", "203.0.113.7")
    settings = Settings()
    assert settings.ice_servers == ["stun:a.example:3478", "stun:[2001:db8::1]"]
    assert settings.turn_urls == ["turn:t.example?transport=tcp"]
    assert media_network(settings) == MediaNetwork(
        port_range=PortRange(50000, 50999),
        bind_addresses=("10.0.0.5", "127.0.0.1"),
        announced_address="203.0.113.7",
    )


@pytest.mark.parametrize(
    "values, message",
    [
        ({"media_udp_port_min": 50000, "media_udp_port_max": 40000}, "is above"),
        ({"media_udp_port_min": 80, "media_udp_port_max": 40000}, "MIN=80 is outside 1024-65535"),
        ({"media_udp_port_min": 40000, "media_udp_port_max": 70000}, "MAX=70000 is outside"),
        ({"media_udp_port_min": None}, "set both"),
        ({"media_udp_port_max": None}, "set both"),
        ({"turn_urls": ["turn:t.example"]}, "needs PHONGHOP_TURN_SECRET"),
        ({"ice_servers": ["turn:t.example"]}, "put it in PHONGHOP_TURN_URLS"),
        ({"ice_servers": ["http://stun.example"]}, "is not a STUN URL"),
        ({"turn_urls": ["turn:t.example?transport=sctp"], "turn_secret": "x"}, "not a TURN URL"),
        ({"media_announced_address": "sfu.example"}, "is not an IP address"),
        ({"media_announced_address": "127.0.0.1"}, "cannot be announced"),
        ({"media_bind_addresses": ["eth0"]}, "is not a local IP address"),
        ({"media_bind_addresses": ["0.0.0.0"]}, "name the addresses"),
        ({"turn_ttl_seconds": 10}, "greater than or equal to 60"),
    ],
)
def test_settings_refuse_bad_media_and_ice_values_clearly(values, message):
    with pytest.raises(ValidationError, match=message):
        Settings(**values)


# ---- REST endpoint --------------------------------------------------------------------------


@pytest.fixture
async def turn_server(tmp_path) -> AsyncIterator[Server]:
    """A server (SQLite) with STUN and TURN configured."""
    srv = Server(
        make_settings(
            tmp_path / "data",
            None,
            ice_servers=["stun:stun.tinh.gov.vn"],
            turn_urls=["turn:turn.tinh.gov.vn:3478"],
            turn_secret="s3cret",
            turn_ttl_seconds=3600,
        )
    )
    await srv.start()
    try:
        yield srv
    finally:
        await srv.stop()


async def test_endpoint_hands_members_their_own_turn_credentials(turn_server):
    async with aiohttp.ClientSession() as http:
        world = await build_world(turn_server, http)
        path = f"/api/v1/meetings/{world.meeting_id}/ice-servers"
        delegate = Api(turn_server.url, http, token=world.tokens["delegate"])
        before = int(time.time())
        status, body = await delegate.get(path)
        assert status == 200, body
        stun, turn = body["ice_servers"]
        assert stun == {"urls": ["stun:stun.tinh.gov.vn"]}  # no null username for browsers
        assert turn["urls"] == ["turn:turn.tinh.gov.vn:3478"]
        expiry, who = turn["username"].split(":", 1)
        assert who == f"account:{world.accounts['delegate']}"
        assert before + 3600 <= int(expiry) <= int(time.time()) + 3600
        digest = hmac.new(b"s3cret", turn["username"].encode(), hashlib.sha1).digest()
        assert turn["credential"] == base64.b64encode(digest).decode()

        device = Api(turn_server.url, http, token=world.endpoint_tokens[0])
        status, body = await device.get(path)
        assert status == 200, body
        assert body["ice_servers"][1]["username"].endswith(f":endpoint:{world.endpoints[0]}")

        status, body = await Api(turn_server.url, http).get(path)
        assert status == 401, body


# ---- against a real coturn ------------------------------------------------------------------


@dataclass
class Coturn:
    """A turnserver on loopback with use-auth-secret."""

    port: int
    secret: str

    @property
    def url(self) -> str:
        return f"turn:127.0.0.1:{self.port}?transport=udp"


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _answers_stun(port: int) -> bool:
    """Whether something answers a STUN binding request on 127.0.0.1:port."""
    from aioice import stun

    request = stun.Message(message_method=stun.Method.BINDING, message_class=stun.Class.REQUEST)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(0.2)
        sock.sendto(bytes(request), ("127.0.0.1", port))
        try:
            data, _ = sock.recvfrom(2048)
        except (TimeoutError, ConnectionRefusedError):
            return False
    return stun.parse_message(data).transaction_id == request.transaction_id


@pytest.fixture
def coturn(tmp_path: Path) -> Iterator[Coturn]:
    """coturn (Debian's package; deploy/dev/ensure-services.sh installs it) on loopback."""
    if TURNSERVER is None:
        pytest.skip("turnserver is not installed (Debian package coturn)")
    port, secret = _free_udp_port(), secrets.token_urlsafe(32)
    relay_low = 20000 + secrets.randbelow(10000)
    log = tmp_path / "turnserver.log"
    args = [
        TURNSERVER,
        "-n",  # no configuration file: everything is on this command line
        "--listening-ip=127.0.0.1",
        f"--listening-port={port}",
        "--relay-ip=127.0.0.1",
        f"--min-port={relay_low}",
        f"--max-port={relay_low + 200}",
        "--use-auth-secret",
        f"--static-auth-secret={secret}",
        "--realm=phonghop.test",
        "--allow-loopback-peers",  # the SFU under test is on loopback too
        "--no-tcp",
        "--no-tls",
        "--no-dtls",
        "--no-cli",
        "--fingerprint",
        f"--userdb={tmp_path / 'turndb'}",
        f"--pidfile={tmp_path / 'turnserver.pid'}",
        f"--log-file={log}",
        "--simple-log",
        "--no-stdout-log",
    ]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + WAIT
        while not _answers_stun(port):
            if process.poll() is not None:
                pytest.fail(f"turnserver exited {process.returncode}: {process.stderr.read()!r}")
            if time.monotonic() > deadline:
                pytest.fail(f"turnserver did not answer on 127.0.0.1:{port}: {log.read_text()}")
            time.sleep(0.05)
        yield Coturn(port, secret)
    finally:
        process.terminate()
        try:
            process.wait(timeout=WAIT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        assert process.stderr is not None
        process.stderr.close()


def _turn_peer(
    coturn: Coturn,
    username: str,
    credential: str,
    policy: RTCIceTransportPolicy = RTCIceTransportPolicy.ALL,
) -> RTCPeerConnection:
    server = RTCIceServer(urls=[coturn.url], username=username, credential=credential)
    return RTCPeerConnection(RTCConfiguration(iceServers=[server], iceTransportPolicy=policy))


def _candidates(pc: RTCPeerConnection) -> list:
    return [
        candidate_from_sdp(line[len("a=candidate:") :])
        for line in pc.localDescription.sdp.splitlines()
        if line.startswith("a=candidate:")
    ]


async def _gathered(pc: RTCPeerConnection) -> list:
    pc.createDataChannel("probe")
    await pc.setLocalDescription(await pc.createOffer())
    return _candidates(pc)


async def test_coturn_relays_for_generated_credentials(coturn):
    username, credential = turn_credentials(coturn.secret, "account:7", 600)
    pc = _turn_peer(coturn, username, credential)
    try:
        relays = [c for c in await _gathered(pc) if c.type == "relay"]
    finally:
        await pc.close()
    assert len(relays) == 1, "coturn refused the generated credentials"
    assert relays[0].ip == "127.0.0.1"


@pytest.mark.parametrize(
    "case", ["wrong secret", "expired", "tampered username", "server settings"]
)
async def test_coturn_refuses_credentials_it_did_not_issue_or_that_expired(coturn, case):
    if case == "wrong secret":
        username, credential = turn_credentials("not-" + coturn.secret, "account:7", 600)
    elif case == "expired":
        username, credential = turn_credentials(
            coturn.secret, "account:7", 600, now=time.time() - 3600
        )
    elif case == "tampered username":
        username, credential = turn_credentials(coturn.secret, "account:7", 600)
        username = username.replace("account:7", "account:1")
    else:  # ice_servers_for with a different secret than coturn's
        settings = Settings(turn_urls=[coturn.url], turn_secret="other", turn_ttl_seconds=600)
        (server,) = ice_servers_for(settings, "account:7")
        username, credential = server["username"], server["credential"]
    pc = _turn_peer(coturn, username, credential)
    try:
        assert [c for c in await _gathered(pc) if c.type == "relay"] == []
    finally:
        await pc.close()


async def test_relay_only_client_reaches_the_sfu_through_coturn(coturn):
    """A commune behind a firewall that only lets TURN out: every packet goes through coturn."""
    settings = Settings(turn_urls=[coturn.url], turn_secret=coturn.secret)
    (server,) = ice_servers_for(settings, "endpoint:12")
    client = _turn_peer(
        coturn, server["username"], server["credential"], policy=RTCIceTransportPolicy.RELAY
    )
    sfu = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    low = 20000 + secrets.randbelow(10000)
    ports = PortRange(low, low + 99)
    bind_rtc_ports(sfu, MediaNetwork(port_range=ports, bind_addresses=("127.0.0.1",)))
    try:

        @sfu.on("datachannel")
        def on_datachannel(channel) -> None:
            channel.on("message", lambda message: channel.send(f"echo:{message}"))

        channel = client.createDataChannel("chat")
        echoed: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        channel.on("open", lambda: channel.send("qua TURN"))
        channel.on("message", lambda message: echoed.done() or echoed.set_result(message))
        await client.setLocalDescription(await client.createOffer())
        assert {c.type for c in _candidates(client)} == {"relay"}
        await sfu.setRemoteDescription(client.localDescription)
        await sfu.setLocalDescription(await sfu.createAnswer())
        await client.setRemoteDescription(sfu.localDescription)
        assert await asyncio.wait_for(echoed, WAIT) == "echo:qua TURN"
        assert all(c.port in ports for c in _candidates(sfu))
    finally:
        await client.close()
        await sfu.close()
