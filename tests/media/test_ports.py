"""Host candidates on the configured UDP port range, with real aiortc peers."""

import asyncio
import errno
import re
import secrets
import socket
from collections.abc import AsyncIterator, Iterator

import ifaddr
import pytest
from aiortc import RTCBundlePolicy, RTCConfiguration, RTCPeerConnection
from aiortc.mediastreams import VideoStreamTrack
from aiortc.sdp import candidate_from_sdp

from media.aiortc_hooks import check_aioice
from media.ports import MediaNetwork, PortRange, PortRangeExhausted, bind_rtc_ports

CONFIG = RTCConfiguration(iceServers=[])  # no STUN server: host candidates only
WAIT = 20  # seconds; a guard against hangs, not a performance threshold


def _free_range(size: int) -> PortRange:
    """A range below Linux's ephemeral ports (32768+), where nothing else allocates."""
    low = 20000 + secrets.randbelow(12000 - size)
    return PortRange(low, low + size - 1)


def _candidates(pc: RTCPeerConnection) -> list:
    """Every candidate ``pc`` put in its local description."""
    return [
        candidate_from_sdp(line[len("a=candidate:") :])
        for line in pc.localDescription.sdp.splitlines()
        if line.startswith("a=candidate:")
    ]


def _bindable(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return False
            raise
    return True


async def _negotiate(offerer: RTCPeerConnection, answerer: RTCPeerConnection) -> None:
    await offerer.setLocalDescription(await offerer.createOffer())
    await answerer.setRemoteDescription(offerer.localDescription)
    await answerer.setLocalDescription(await answerer.createAnswer())
    await offerer.setRemoteDescription(answerer.localDescription)


async def _echo_over_data_channel(client: RTCPeerConnection, sfu: RTCPeerConnection) -> str:
    """The client opens a data channel, the SFU side echoes; returns the echoed message."""

    @sfu.on("datachannel")
    def on_datachannel(channel) -> None:
        @channel.on("message")
        def on_message(message: str) -> None:
            channel.send(f"echo:{message}")

    channel = client.createDataChannel("chat")
    echoed: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    channel.on("open", lambda: channel.send("xin chào"))
    channel.on("message", lambda message: echoed.done() or echoed.set_result(message))
    await _negotiate(client, sfu)
    return await asyncio.wait_for(echoed, WAIT)


async def _connected(pc: RTCPeerConnection) -> bool:
    done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

    @pc.on("connectionstatechange")
    def on_change() -> None:
        if pc.connectionState in ("connected", "failed") and not done.done():
            done.set_result(pc.connectionState == "connected")

    on_change()
    return await asyncio.wait_for(done, WAIT)


@pytest.fixture
async def peers() -> AsyncIterator[tuple[RTCPeerConnection, RTCPeerConnection]]:
    """(client, sfu): two real peer connections, closed afterwards."""
    client, sfu = RTCPeerConnection(CONFIG), RTCPeerConnection(CONFIG)
    try:
        yield client, sfu
    finally:
        await client.close()
        await sfu.close()


@pytest.fixture
def held_ports() -> Iterator[list[socket.socket]]:
    """Sockets a test binds to occupy ports; closed afterwards."""
    sockets: list[socket.socket] = []
    yield sockets
    for sock in sockets:
        sock.close()


def test_internals_this_module_hooks_are_present():
    check_aioice()


def test_port_range_visits_every_port_once_from_any_start():
    ports = PortRange(40000, 40009)
    assert len(ports) == 10
    assert sorted(ports.candidates()) == list(range(40000, 40010))
    assert list(ports.candidates(start=40007))[:4] == [40007, 40008, 40009, 40000]
    assert 40009 in ports and 40010 not in ports and 39999 not in ports


@pytest.mark.parametrize("low, high", [(0, 10), (50, 40), (65000, 65536)])
def test_port_range_rejects_nonsense(low, high):
    with pytest.raises(ValueError, match="invalid UDP port range"):
        PortRange(low, high)


def test_bind_skips_ports_in_use(held_ports):
    ports = _free_range(4)
    for port in list(ports.candidates(start=ports.low))[:3]:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        held_ports.append(sock)
        sock.bind(("127.0.0.1", port))
    for _ in range(5):  # whatever the random start, only the last port is free
        with ports.bind("127.0.0.1") as sock:
            assert sock.getsockname() == ("127.0.0.1", ports.high)
            assert not sock.getblocking()


def test_bind_exhausted_range_is_a_clear_error(held_ports):
    ports = _free_range(3)
    for port in ports.candidates():
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        held_ports.append(sock)
        sock.bind(("127.0.0.1", port))
    with pytest.raises(PortRangeExhausted) as raised:
        ports.bind("127.0.0.1")
    message = str(raised.value)
    assert f"{ports.low}-{ports.high}" in message and "127.0.0.1" in message
    assert "all 3 are in use" in message and "PHONGHOP_MEDIA_UDP_PORT_MIN/MAX" in message


def test_bind_reports_an_address_that_is_not_local():
    local = {ip.ip for adapter in ifaddr.get_adapters() for ip in adapter.ips}
    foreign = next(a for a in ("192.0.2.201", "198.51.100.201", "203.0.113.201") if a not in local)
    with pytest.raises(OSError) as raised:
        _free_range(3).bind(foreign)
    assert raised.value.errno == errno.EADDRNOTAVAIL
    assert not isinstance(raised.value, PortRangeExhausted)


def test_default_addresses_add_loopback_and_configured_ones_are_used_as_given():
    assert MediaNetwork().host_addresses(["10.1.2.3"]) == ["10.1.2.3", "127.0.0.1"]
    assert MediaNetwork(include_loopback=False).host_addresses(["10.1.2.3"]) == ["10.1.2.3"]
    network = MediaNetwork(bind_addresses=("10.9.9.9",))
    assert network.host_addresses(["10.1.2.3"]) == ["10.9.9.9"]


def test_announced_address_only_for_non_loopback_hosts_of_its_family():
    network = MediaNetwork(announced_address="203.0.113.7")
    assert network.announced_address_for("10.1.2.3") == "203.0.113.7"
    assert network.announced_address_for("127.0.0.1") is None
    assert network.announced_address_for("fd00::5") is None
    assert network.announced_address_for("203.0.113.7") is None
    assert MediaNetwork().announced_address_for("10.1.2.3") is None


async def test_hooked_peer_gathers_only_in_range_connects_and_frees_its_ports(peers):
    client, sfu = peers
    ports = _free_range(50)
    bind_rtc_ports(sfu, MediaNetwork(port_range=ports))  # before any transport exists

    assert await _echo_over_data_channel(client, sfu) == "echo:xin chào"

    local = _candidates(sfu)
    assert local, "the SFU offered no candidates"
    assert {c.type for c in local} == {"host"}
    assert all(c.port in ports for c in local), [(c.ip, c.port) for c in local]
    assert "127.0.0.1" in {c.ip for c in local}  # loopback joins the discovered addresses
    assert sfu.connectionState == "connected"
    # The unhooked client keeps aioice's OS-chosen ports (and no loopback).
    assert "127.0.0.1" not in {c.ip for c in _candidates(client)}

    held = {(c.ip, c.port) for c in local}
    assert not any(_bindable(host, port) for host, port in held)
    await sfu.close()
    assert all(_bindable(host, port) for host, port in held)


async def test_media_flows_between_two_hooked_peers_on_loopback(peers):
    client, sfu = peers
    ports = _free_range(50)
    loopback = MediaNetwork(port_range=ports, bind_addresses=("127.0.0.1",))
    bind_rtc_ports(client, loopback)
    bind_rtc_ports(sfu, loopback)
    client.addTrack(VideoStreamTrack())
    received: asyncio.Future = asyncio.get_running_loop().create_future()
    sfu.on("track", lambda track: received.done() or received.set_result(track))
    await _negotiate(client, sfu)

    track = await asyncio.wait_for(received, WAIT)
    frame = await asyncio.wait_for(track.recv(), WAIT)
    assert frame.width > 0
    for pc in (client, sfu):
        local = _candidates(pc)
        assert [(c.ip, c.port in ports) for c in local] == [("127.0.0.1", True)]


@pytest.mark.parametrize("bundle", [RTCBundlePolicy.BALANCED, RTCBundlePolicy.MAX_BUNDLE])
async def test_transports_added_by_a_renegotiation_are_in_range(bundle):
    client = RTCPeerConnection(CONFIG)
    sfu = RTCPeerConnection(RTCConfiguration(iceServers=[], bundlePolicy=bundle))
    try:
        await _renegotiate_in_range(client, sfu)
    finally:
        await client.close()
        await sfu.close()


async def _renegotiate_in_range(client: RTCPeerConnection, sfu: RTCPeerConnection) -> None:
    ports = _free_range(50)
    bind_rtc_ports(sfu, MediaNetwork(port_range=ports, bind_addresses=("127.0.0.1",)))
    bind_rtc_ports(client, MediaNetwork(bind_addresses=("127.0.0.1",)))
    client.addTrack(VideoStreamTrack())
    await _negotiate(client, sfu)
    # A second negotiation adds a data channel and audio: transports created after the answer.
    client.createDataChannel("late")
    client.addTransceiver("audio", direction="sendonly")
    await _negotiate(client, sfu)
    assert sfu.connectionState == "connected" or await _connected(sfu)
    assert all(c.port in ports for c in _candidates(sfu))
    transports = {t.receiver.transport for t in sfu.getTransceivers()}
    if sfu.sctp is not None:
        transports.add(sfu.sctp.transport)
    for transport in transports:
        for candidate in transport.transport.iceGatherer.getLocalCandidates():
            assert candidate.port in ports


async def test_exhausted_range_fails_negotiation_with_the_clear_error(peers, held_ports):
    client, sfu = peers
    ports = _free_range(2)
    for port in ports.candidates():
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        held_ports.append(sock)
        sock.bind(("127.0.0.1", port))
    bind_rtc_ports(sfu, MediaNetwork(port_range=ports, bind_addresses=("127.0.0.1",)))
    client.createDataChannel("chat")
    await client.setLocalDescription(await client.createOffer())
    await sfu.setRemoteDescription(client.localDescription)
    expected = re.escape(f"{ports.low}-{ports.high} on 127.0.0.1")
    with pytest.raises(PortRangeExhausted, match=expected):
        await sfu.setLocalDescription(await sfu.createAnswer())


async def test_exhaustion_on_a_later_address_releases_the_ports_taken_before(peers, held_ports):
    client, sfu = peers
    ports = _free_range(3)
    # 127.0.0.2 is loopback too (127/8): its ports are all taken, 127.0.0.1's are free.
    for port in ports.candidates():
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        held_ports.append(sock)
        sock.bind(("127.0.0.2", port))
    bind_rtc_ports(sfu, MediaNetwork(port_range=ports, bind_addresses=("127.0.0.1", "127.0.0.2")))
    client.createDataChannel("chat")
    await client.setLocalDescription(await client.createOffer())
    await sfu.setRemoteDescription(client.localDescription)
    with pytest.raises(PortRangeExhausted, match=re.escape("on 127.0.0.2")):
        await sfu.setLocalDescription(await sfu.createAnswer())
    assert all(_bindable("127.0.0.1", port) for port in ports.candidates())


async def test_announced_address_is_offered_as_server_reflexive_on_the_same_port(peers):
    client, sfu = peers
    ports = _free_range(50)
    public = "203.0.113.7"  # TEST-NET-3: unreachable, the host candidates still connect
    bind_rtc_ports(sfu, MediaNetwork(port_range=ports, announced_address=public))

    assert await _echo_over_data_channel(client, sfu) == "echo:xin chào"

    local = _candidates(sfu)
    hosts = {(c.ip, c.port) for c in local if c.type == "host"}
    reflexive = [c for c in local if c.type == "srflx"]
    non_loopback = {(ip, port) for ip, port in hosts if not ip.startswith("127.")}
    if not non_loopback:
        pytest.skip("this machine has no non-loopback IPv4/IPv6 address to announce for")
    expected = {(ip, port) for ip, port in non_loopback if ":" not in ip}
    assert {(c.relatedAddress, c.relatedPort) for c in reflexive} == expected
    assert all(c.ip == public and c.port == c.relatedPort for c in reflexive)


async def test_hooking_after_gathering_is_refused(peers):
    client, _ = peers
    client.createDataChannel("chat")
    await client.setLocalDescription(await client.createOffer())
    with pytest.raises(RuntimeError, match="already gathered"):
        bind_rtc_ports(client, MediaNetwork(port_range=_free_range(10)))
