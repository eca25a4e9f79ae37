"""Prometheus metrics, kept in a registry owned by the app (no process-global state)."""

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


@dataclass
class Metrics:
    """The server's instruments."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.connected_clients = Gauge(
            "phonghop_connected_clients", "socket.io clients connected to this process", registry=r
        )
        self.live_meetings = Gauge(
            "phonghop_live_meetings", "meetings in the live state", registry=r
        )
        self.joins = Counter("phonghop_joins", "successful meeting joins", registry=r)
        self.errors = Counter(
            "phonghop_errors", "errors returned to clients", ["code", "channel"], registry=r
        )
        self.request_latency = Histogram(
            "phonghop_http_request_duration_seconds",
            "HTTP request latency",
            ["method", "route", "status"],
            registry=r,
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.event_latency = Histogram(
            "phonghop_socket_event_duration_seconds",
            "socket.io event handling latency",
            ["event"],
            registry=r,
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
        )

    def render(self) -> bytes:
        """Text exposition format."""
        return generate_latest(self.registry)
