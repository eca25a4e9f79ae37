"""Worker: the media plane behind a narrow, message-like API.

Signaling talks to the SFU only through ``await worker.request(method, params)`` with
JSON-shaped parameters and results, and hears back through one ``notify(event, data)``
callback. Nothing else crosses the boundary (no aiortc object, no Producer), so a Worker can
move into its own process (one per core) behind a pipe or Redis without signaling changing.
"""

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiortc import RTCBundlePolicy, RTCConfiguration

from media.aiortc_hooks import check_aioice, check_aiortc
from media.ports import MediaNetwork, PortRangeExhausted
from media.router import Notify, Router
from media.tap import SinkFactory, Tap
from media.transport import NegotiationError, Transport

log = logging.getLogger("phonghop.media")


class MediaError(Exception):
    """A request the media plane refuses; ``code`` is one of the signaling error codes."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def default_configuration() -> RTCConfiguration:
    """The SFU's side of every peer connection.

    No ICE servers: the SFU is the reachable end and offers host candidates. Max-bundle:
    under aiortc's default (balanced) policy, an offer with two m-sections of one kind leaves
    the second on a transport that bundling then discards, and its media never flows.
    """
    return RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)


Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


class Worker:
    """Holds the Routers of the meetings it serves and the Transports of their endpoints."""

    def __init__(
        self,
        notify: Notify,
        configuration: Callable[[], RTCConfiguration] | None = None,
        network: MediaNetwork | None = None,
        sinks: SinkFactory | None = None,
    ) -> None:
        check_aiortc()
        check_aioice()
        self.network = network
        self.notify = notify
        self.configuration = configuration or default_configuration
        self.routers: dict[str, Router] = {}
        self.transports: dict[str, Transport] = {}
        self.taps: dict[str, Tap] = {}
        self.sinks = sinks  # makes what a tap's packets go to (the recorder); None: no taps
        self._handlers: dict[str, Handler] = {
            "router.create": self._router_create,
            "router.close": self._router_close,
            "transport.create": self._transport_create,
            "transport.negotiate": self._transport_negotiate,
            "transport.candidate": self._transport_candidate,
            "transport.close": self._transport_close,
            "transport.stats": self._transport_stats,
            "consumer.assign": self._consumer_assign,
            "consumer.view": self._consumer_view,
            "tap.create": self._tap_create,
            "tap.assign": self._tap_assign,
            "tap.close": self._tap_close,
            "tap.stats": self._tap_stats,
        }

    async def request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """Carry out one request; raises ``MediaError`` with a code signaling can show."""
        handler = self._handlers.get(method)
        if handler is None:
            raise MediaError("bad_request", f"unknown media request {method}")
        try:
            return await handler(params)
        except NegotiationError as exc:
            raise MediaError("bad_sdp", str(exc)) from exc
        except PortRangeExhausted as exc:
            log.error("media.no_ports: %s", exc)
            raise MediaError("no_media_ports", "the server has no free media port") from exc
        except KeyError as exc:
            raise MediaError("not_found", f"unknown {exc.args[0]}") from exc
        except ValueError as exc:
            raise MediaError("bad_request", str(exc)) from exc

    async def close(self) -> None:
        """Close every router (and so every peer connection)."""
        for router in list(self.routers.values()):
            await router.close()
        self.routers.clear()
        self.transports.clear()
        self.taps.clear()

    # ---- handlers -----------------------------------------------------------------------

    def _router(self, router_id: str) -> Router:
        router = self.routers.get(router_id)
        if router is None:
            raise KeyError(f"router {router_id}")
        return router

    def _transport(self, transport_id: str) -> Transport:
        transport = self.transports.get(transport_id)
        if transport is None:
            raise KeyError(f"transport {transport_id}")
        return transport

    async def _router_create(self, params: dict[str, Any]) -> dict[str, Any]:
        router_id = str(params["router_id"])
        if router_id not in self.routers:
            router = Router(router_id, self.notify)
            router.start()
            self.routers[router_id] = router
        return {"router_id": router_id}

    async def _router_close(self, params: dict[str, Any]) -> dict[str, Any]:
        router = self.routers.pop(str(params["router_id"]), None)
        if router is not None:
            for tap in list(router.taps.values()):
                self.taps.pop(tap.id, None)
            await router.close()
        return {}

    async def _transport_create(self, params: dict[str, Any]) -> dict[str, Any]:
        router = self._router(str(params["router_id"]))
        transport_id = str(params["transport_id"])
        old = self.transports.get(transport_id)
        if old is not None:
            await old.close()
        transport = Transport(
            transport_id,
            router.id,
            self.configuration(),
            self.network,
            on_producer=router.producer_added,
            on_producer_closed=router.producer_closed,
            on_closed=self._transport_closed,
        )
        self.transports[transport_id] = transport
        router.transports[transport_id] = transport
        return {"transport_id": transport_id}

    def _transport_closed(self, transport: Transport) -> None:
        if self.transports.get(transport.id) is transport:
            del self.transports[transport.id]
        router = self.routers.get(transport.router_id)
        if router is not None and router.transports.get(transport.id) is transport:
            del router.transports[transport.id]
        self.notify(
            "transport.closed", {"router_id": transport.router_id, "transport_id": transport.id}
        )

    async def _transport_negotiate(self, params: dict[str, Any]) -> dict[str, Any]:
        transport = self._transport(str(params["transport_id"]))
        answer = await transport.negotiate(str(params["sdp"]), dict(params.get("sources") or {}))
        return {
            "type": "answer",
            "sdp": answer,
            "slots": [slot.describe() for slot in transport.slots.values()],
        }

    async def _transport_candidate(self, params: dict[str, Any]) -> dict[str, Any]:
        transport = self._transport(str(params["transport_id"]))
        await transport.add_candidate(
            params.get("candidate"), params.get("sdp_mid"), params.get("sdp_mline_index")
        )
        return {}

    async def _transport_close(self, params: dict[str, Any]) -> dict[str, Any]:
        transport = self.transports.get(str(params["transport_id"]))
        if transport is not None:
            await transport.close()
        return {}

    async def _transport_stats(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._transport(str(params["transport_id"])).stats()

    async def _consumer_assign(self, params: dict[str, Any]) -> dict[str, Any]:
        transport = self._transport(str(params["transport_id"]))
        producer_id = params.get("producer_id")
        producer = None
        if producer_id is not None:
            producer = self._router(transport.router_id).producers.get(str(producer_id))
            if producer is None:
                raise KeyError(f"producer {producer_id}")
        try:
            transport.assign(str(params["mid"]), producer)
        except ValueError as exc:
            raise MediaError("bad_request", str(exc)) from exc
        return {}

    async def _consumer_view(self, params: dict[str, Any]) -> dict[str, Any]:
        transport = self._transport(str(params["transport_id"]))
        slot = transport.slots.get(str(params["mid"]))
        if slot is None:
            raise KeyError(f"slot {params['mid']}")
        slot.consumer.prefer(max_height=int(params.get("max_height") or 0))
        return {"layer": slot.consumer.target_layer}

    async def _tap_create(self, params: dict[str, Any]) -> dict[str, Any]:
        if self.sinks is None:
            raise MediaError("unavailable", "this media worker has no recorder")
        router = self._router(str(params["router_id"]))
        tap_id = str(params["tap_id"])
        if tap_id in self.taps:
            raise ValueError(f"tap {tap_id} exists")
        slots = {str(mid): str(kind) for mid, kind in dict(params["slots"]).items()}
        tap = Tap(tap_id, router.id, slots, self.sinks, dict(params.get("sink") or {}))
        self.taps[tap_id] = tap
        router.taps[tap_id] = tap
        return {"tap_id": tap_id}

    async def _tap_assign(self, params: dict[str, Any]) -> dict[str, Any]:
        tap = self._tap(str(params["tap_id"]))
        producer_id = params.get("producer_id")
        producer = None
        if producer_id is not None:
            producer = self._router(tap.router_id).producers.get(str(producer_id))
            if producer is None:
                raise KeyError(f"producer {producer_id}")
        tap.assign(str(params["mid"]), producer)
        return {}

    async def _tap_close(self, params: dict[str, Any]) -> dict[str, Any]:
        tap = self.taps.pop(str(params["tap_id"]), None)
        if tap is None:
            raise KeyError(f"tap {params['tap_id']}")
        router = self.routers.get(tap.router_id)
        if router is not None:
            router.taps.pop(tap.id, None)
        return await tap.close()

    async def _tap_stats(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._tap(str(params["tap_id"])).stats()

    def _tap(self, tap_id: str) -> Tap:
        tap = self.taps.get(tap_id)
        if tap is None:
            raise KeyError(f"tap {tap_id}")
        return tap
