"""Settings from the command line and ``PHONGHOP_*`` environment variables."""

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


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
    public_url: str | None = None  # how users reach us, for printed links

    session_ttl_seconds: int = 12 * 3600
    access_token_ttl_seconds: int = 15 * 60
    cookie_secure: bool = False  # set true behind TLS (deploy/nginx terminates it)

    max_body_bytes: int = 256 * 1024  # JSON API bodies; uploads have their own limit
    max_socket_message_bytes: int = 64 * 1024

    login_max_per_account: int = 5
    login_max_per_address: int = 20
    login_window_seconds: int = 300

    reconnect_grace_seconds: float = 20.0
    presence_flush_ms: int = 100

    log_level: str = "INFO"
    log_json: bool = True

    trust_proxy: bool = False  # believe X-Real-IP / X-Forwarded-For from a reverse proxy
    cors_origins: list[str] = Field(default_factory=list)

    def resolved_database_url(self) -> str:
        """The configured URL, or the SQLite file inside the data dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'phonghop.sqlite3').resolve()}"
