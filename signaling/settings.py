"""Settings from the command line and ``PHONGHOP_*`` environment variables."""

import ipaddress
import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# RFC 7064 / RFC 7065 URIs (host: a name, an IPv4 address or a bracketed IPv6 address).
_HOST = r"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)"
STUN_URL = re.compile(rf"stuns?:{_HOST}(?::\d{{1,5}})?")
TURN_URL = re.compile(rf"turns?:{_HOST}(?::\d{{1,5}})?(?:\?transport=(?:udp|tcp))?")
MIN_MEDIA_PORT, MAX_MEDIA_PORT = 1024, 65535


def _split_list(value: Any) -> Any:
    """``PHONGHOP_X=a,b`` or ``PHONGHOP_X=["a","b"]`` from the environment; lists pass through."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text.startswith("["):
        return json.loads(text)
    return [item.strip() for item in text.split(",") if item.strip()]


class Settings(BaseSettings):
    """Everything the server needs to start; defaults give the embedded single-process setup."""

    model_config = SettingsConfigDict(env_prefix="PHONGHOP_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path = Path("./data")
    database_url: str | None = None  # default: SQLite file in data_dir
    redis_url: str | None = None  # set → socket.io rooms, presence and rate limits shared
    redis_namespace: str = "phonghop"  # key/channel prefix, so installations can share a Redis
    demo: bool = False
    secret_key: str | None = None  # default: generated once into data_dir/secret_key
    admin_password: str | None = None  # first start only; otherwise generated and printed
    public_url: str | None = None  # how users reach us: printed links, links in e-mails

    # Invitation e-mail (signaling/mail.py). No host → mails stay queued in the outbox.
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_from: str = "phonghop <phonghop@localhost>"
    smtp_security: Literal["starttls", "tls", "none"] = "starttls"  # tls: implicit (port 465)
    smtp_validate_certs: bool = True
    smtp_timeout_seconds: float = Field(default=30.0, gt=0)
    mail_poll_seconds: float = Field(default=30.0, gt=0)  # also woken at once after a change
    mail_batch_size: int = Field(default=50, ge=1)
    mail_retry_base_seconds: float = Field(default=30.0, gt=0)  # doubles per failed attempt
    mail_retry_max_seconds: float = Field(default=1800.0, gt=0)
    mail_max_attempts: int = Field(default=100, ge=1)

    session_ttl_seconds: int = 12 * 3600
    access_token_ttl_seconds: int = 15 * 60
    cookie_secure: bool = False  # set true behind TLS (deploy/nginx terminates it)

    max_body_bytes: int = 256 * 1024  # JSON API bodies; uploads have their own limit
    max_socket_message_bytes: int = 64 * 1024

    # Meeting documents (meetings/documents, signaling/api/routes_documents.py).
    document_max_bytes: int = Field(default=100 * 1024 * 1024, ge=1024)  # one uploaded PDF
    document_max_pages: int = Field(default=2000, ge=1)
    document_check_seconds: float = Field(default=120.0, gt=0)  # pypdf validation budget
    document_stamp_font: Path | None = None  # default: signaling.fonts.DEFAULT_REGULAR
    document_publish_poll_seconds: float = Field(default=10.0, gt=0)  # scheduled publication

    # Minutes (meetings/minutes, signaling/api/routes_minutes.py). The PDF font defaults to
    # DejaVu Sans from web/node_modules (`npm ci --prefix web`); a PKCS#12 certificate, when
    # given, signs approved minutes (PAdES) and anchors their verification.
    minutes_font: Path | None = None  # a Unicode TTF (regular)
    minutes_font_bold: Path | None = None  # its bold face (default: the regular one)
    minutes_signing_p12: Path | None = None
    minutes_signing_passphrase: str | None = None
    minutes_location: str = ""  # written into the signature, e.g. "Quảng Ninh"

    # Recordings (meetings/recordings.py): deleted this many days after they end, by the
    # housekeeping (audited); 0 keeps them forever.
    recording_retention_days: int = Field(default=0, ge=0)
    # Also write each producer (camera, microphone, screen) to its own file while a meeting
    # is recorded, beside the main file: every voice kept separately, for transcripts.
    recording_tracks: bool = False

    login_max_per_account: int = 5
    login_max_per_address: int = 20
    login_window_seconds: int = 300

    reconnect_grace_seconds: float = 20.0
    presence_flush_ms: int = 100

    log_level: str = "INFO"
    log_json: bool = True

    trust_proxy: bool = False  # believe X-Real-IP / X-Forwarded-For from a reverse proxy
    cors_origins: list[str] = Field(default_factory=list)

    # ICE for browsers and endpoints (signaling/ice.py hands these out; deploy/coturn).
    ice_servers: Annotated[list[str], NoDecode] = Field(default_factory=list)  # stun:/stuns: URLs
    turn_urls: Annotated[list[str], NoDecode] = Field(default_factory=list)  # turn:/turns: URLs
    turn_secret: str | None = None  # coturn static-auth-secret (use-auth-secret REST credentials)
    turn_ttl_seconds: int = Field(default=12 * 3600, ge=60)

    # Media plane UDP (media/ports.py). Both port bounds None → the OS picks ephemeral ports.
    media_udp_port_min: int | None = 40000
    media_udp_port_max: int | None = 49999
    media_announced_address: str | None = None  # public IP of a 1:1 NAT in front of the server
    # Local IPs to gather host candidates on; None → every non-loopback address plus 127.0.0.1.
    media_bind_addresses: Annotated[list[str] | None, NoDecode] = None

    @field_validator("ice_servers", "turn_urls", "media_bind_addresses", mode="before")
    @classmethod
    def _lists_from_env(cls, value: Any) -> Any:
        return _split_list(value)

    @field_validator("ice_servers")
    @classmethod
    def _check_ice_servers(cls, urls: list[str]) -> list[str]:
        for url in urls:
            if TURN_URL.fullmatch(url):
                raise ValueError(
                    f"{url!r} is a TURN URL: put it in PHONGHOP_TURN_URLS (with"
                    " PHONGHOP_TURN_SECRET) so that clients get time-limited credentials for it"
                )
            if not STUN_URL.fullmatch(url):
                raise ValueError(f"{url!r} is not a STUN URL (stun:host[:port] or stuns:…)")
        return urls

    @field_validator("turn_urls")
    @classmethod
    def _check_turn_urls(cls, urls: list[str]) -> list[str]:
        for url in urls:
            if not TURN_URL.fullmatch(url):
                raise ValueError(
                    f"{url!r} is not a TURN URL (turn:host[:port][?transport=udp|tcp] or turns:…)"
                )
        return urls

    @field_validator("media_announced_address")
    @classmethod
    def _check_announced(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        try:
            address = ipaddress.ip_address(value.strip())
        except ValueError:
            raise ValueError(f"{value!r} is not an IP address (ICE candidates carry IPs)") from None
        if address.is_unspecified or address.is_loopback:
            raise ValueError(f"{value!r} cannot be announced to clients")
        return str(address)

    @field_validator("media_bind_addresses")
    @classmethod
    def _check_bind_addresses(cls, values: list[str] | None) -> list[str] | None:
        if not values:
            return None
        checked = []
        for value in values:
            try:
                address = ipaddress.ip_address(value)
            except ValueError:
                raise ValueError(f"{value!r} is not a local IP address") from None
            if address.is_unspecified:
                raise ValueError(f"{value!r}: name the addresses, candidates need a concrete one")
            checked.append(str(address))
        return checked

    @model_validator(mode="after")
    def _check_media_and_turn(self) -> "Settings":
        low, high = self.media_udp_port_min, self.media_udp_port_max
        if (low is None) != (high is None):
            raise ValueError(
                "set both PHONGHOP_MEDIA_UDP_PORT_MIN and PHONGHOP_MEDIA_UDP_PORT_MAX,"
                " or neither (the OS then picks ephemeral ports)"
            )
        if low is not None and high is not None:
            for name, port in (("MIN", low), ("MAX", high)):
                if not MIN_MEDIA_PORT <= port <= MAX_MEDIA_PORT:
                    raise ValueError(
                        f"PHONGHOP_MEDIA_UDP_PORT_{name}={port} is outside"
                        f" {MIN_MEDIA_PORT}-{MAX_MEDIA_PORT}"
                    )
            if low > high:
                raise ValueError(
                    f"PHONGHOP_MEDIA_UDP_PORT_MIN={low} is above PHONGHOP_MEDIA_UDP_PORT_MAX={high}"
                )
        if self.turn_urls and not self.turn_secret:
            raise ValueError(
                "PHONGHOP_TURN_URLS needs PHONGHOP_TURN_SECRET (coturn's static-auth-secret)"
            )
        return self

    def resolved_database_url(self) -> str:
        """The configured URL, or the SQLite file inside the data dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'phonghop.sqlite3').resolve()}"
