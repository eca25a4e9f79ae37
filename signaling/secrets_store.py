"""The server's signing key: from settings, or generated once into the data dir."""

import os
import secrets
from pathlib import Path


def load_or_create_secret(data_dir: Path, configured: str | None) -> str:
    """Return the configured key, else read or create ``data_dir/secret_key`` (mode 0600)."""
    if configured:
        return configured
    path = data_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key
