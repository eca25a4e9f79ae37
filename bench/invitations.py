"""Invitation e-mail benchmark: one request invites a unit of N accounts; how fast do mails go?

Starts a real server (``python -m signaling serve``) on a free loopback port with a fresh data
directory, mailing through a local SMTP server (aiosmtpd, in this process). N accounts with an
e-mail address are written straight into the database before the server starts (one shared
argon2 hash: hashing N passwords through the API would only measure argon2). The chair then
schedules a meeting and invites their commune in one REST request, which queues N mails in its
transaction; the server's background sender delivers them.

Measured: how long the inviting request took (it must not wait for SMTP), the time from the
request to the last mail accepted by the SMTP server, and duplicates (mails beyond one per
recipient). Progress goes to stderr; the last line on stdout is one JSON object::

    {"recipients", "invite_ms", "delivered", "duplicates", "deliver_s", "mails_per_s"}

Usage::

    python bench/invitations.py --recipients 500 [--database-url postgresql+asyncpg://...]
"""

import argparse
import asyncio
import collections
import json
import secrets
import shutil
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiosmtpd.controller import Controller
from argon2 import PasswordHasher
from benchutil import API, PhonghopServer, free_port, stamped_log

from meetings import db
from meetings.models import Account, Role, Unit, UnitKind

CHAIR_PASSWORD = "bench-" + secrets.token_urlsafe(12)


log = stamped_log("invitations")


class Inbox:
    """aiosmtpd handler counting accepted mails per recipient, with the time of the last one."""

    def __init__(self, expected: int) -> None:
        self.per_recipient: collections.Counter[str] = collections.Counter()
        self.last_at = 0.0
        self.expected = expected
        self.all_in = threading.Event()  # the SMTP server runs in its own thread

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # aiosmtpd hook
        """Count the message."""
        for rcpt in envelope.rcpt_tos:
            self.per_recipient[rcpt] += 1
        self.last_at = time.monotonic()
        if len(self.per_recipient) >= self.expected:
            self.all_in.set()
        return "250 OK"


async def seed(database_url: str, recipients: int) -> int:
    """A province, a commune, a chair and N delegates with addresses; returns the commune id."""
    engine = db.create_engine(database_url)
    try:
        await db.migrate(engine)
        shared = PasswordHasher().hash(CHAIR_PASSWORD)
        async with db.transaction(db.session_factory(engine)) as s:
            province = Unit(name="Tỉnh Quảng Ninh", kind=UnitKind.PROVINCE.value)
            s.add(province)
            await s.flush()
            commune = Unit(name="Xã Thanh Sơn", kind=UnitKind.COMMUNE.value, parent_id=province.id)
            s.add(commune)
            await s.flush()
            s.add(
                Account(
                    username="chutri",
                    full_name="Nguyễn Văn Chủ Trì",
                    unit_id=province.id or 0,
                    role=Role.CHAIR.value,
                    password_hash=shared,
                )
            )
            s.add_all(
                Account(
                    username=f"daibieu{i}",
                    full_name=f"Đại biểu số {i}",
                    unit_id=commune.id or 0,
                    role=Role.DELEGATE.value,
                    password_hash=shared,
                    email=f"daibieu{i}@thanhson.quangninh.gov.vn",
                )
                for i in range(recipients)
            )
            return commune.id or 0
    finally:
        await engine.dispose()


async def call(http: aiohttp.ClientSession, method: str, url: str, body: Any, token: str) -> Any:
    """JSON request with a bearer token; raise on an error status."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with http.request(method, url, json=body, headers=headers) as r:
        data = await r.json(content_type=None)
        if r.status >= 300:
            raise RuntimeError(f"{method} {url} → {r.status}: {data}")
        return data


async def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Seed, start SMTP and the server, invite, wait for every mail."""
    data_dir = workdir / "data"
    data_dir.mkdir()
    database_url = args.database_url or f"sqlite:///{data_dir / 'phonghop.sqlite3'}"
    commune = await seed(database_url, args.recipients)
    log(f"seeded {args.recipients} accounts with addresses")
    inbox = Inbox(args.recipients)
    smtp = Controller(inbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    server = PhonghopServer(
        workdir,
        database_url=database_url,
        env={
            "PHONGHOP_SMTP_HOST": "127.0.0.1",
            "PHONGHOP_SMTP_PORT": str(smtp.port),
            "PHONGHOP_SMTP_SECURITY": "none",
            "PHONGHOP_PUBLIC_URL": "https://hop.quangninh.gov.vn",
        },
    )
    url = server.url
    try:
        await server.wait_healthy()
        async with aiohttp.ClientSession() as http:
            login = await call(
                http,
                "POST",
                url + API + "/auth/login",
                {"username": "chutri", "password": CHAIR_PASSWORD},
                "",
            )
            token = login["access_token"]
            starts = datetime.now(UTC) + timedelta(days=7)
            meeting = await call(
                http,
                "POST",
                url + API + "/meetings",
                {
                    "title": "Hội nghị triển khai nhiệm vụ năm 2027",
                    "starts_at": starts.isoformat(),
                    "chair_id": login["account"]["id"],
                },
                token,
            )
            started = time.monotonic()
            await call(
                http,
                "POST",
                url + API + f"/meetings/{meeting['id']}/invitations",
                {"invitees": [{"kind": "unit", "id": commune}]},
                token,
            )
            invite_ms = (time.monotonic() - started) * 1000
            log(f"invited the commune in {invite_ms:.1f} ms; waiting for the mails")
            await asyncio.to_thread(inbox.all_in.wait, args.timeout)
            await asyncio.sleep(1.0)  # any duplicate would arrive now
    finally:
        server.terminate()
        smtp.stop()
    delivered = len(inbox.per_recipient)
    deliver_s = inbox.last_at - started if delivered else 0.0
    return {
        "recipients": args.recipients,
        "invite_ms": round(invite_ms, 1),
        "delivered": delivered,
        "duplicates": sum(n - 1 for n in inbox.per_recipient.values()),
        "deliver_s": round(deliver_s, 2),
        "mails_per_s": round(delivered / deliver_s, 1) if deliver_s > 0 else 0.0,
        "backend": "postgresql" if args.database_url else "sqlite",
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--recipients", type=int, default=500)
    p.add_argument("--database-url", help="PostgreSQL URL (default: SQLite in a temp dir)")
    p.add_argument("--timeout", type=float, default=300.0, help="give up waiting after this")
    return p.parse_args(argv)


def main() -> int:
    """Run once, print the JSON line; exit 1 if a mail is missing or duplicated."""
    args = parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="phonghop-invitations-"))
    try:
        report = asyncio.run(run(args, workdir))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(report, ensure_ascii=False))
    return 0 if report["delivered"] == args.recipients and report["duplicates"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
