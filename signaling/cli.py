"""``phonghop serve`` and ``phonghop admin …``.

Admin commands act as the operator at the console: the audit log records them as ``system``.
"""

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from meetings import accounts, audit, db, endpoints, units
from meetings.credentials import generate_password
from meetings.errors import DomainError, InvalidInput
from meetings.models import Role, UnitKind
from signaling import collector
from signaling.api.convert import device_login_path
from signaling.api.schemas import AccountIn, EndpointIn, PasswordResetIn, UnitIn
from signaling.app import create_app
from signaling.logs import configure_logging
from signaling.settings import Settings

_Body = TypeVar("_Body", bound=BaseModel)


def _settings_from(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {}
    for name in ("host", "port", "data_dir", "database_url", "redis_url"):
        value = getattr(args, name, None)
        if value is not None:
            overrides[name] = value
    if getattr(args, "demo", False):
        overrides["demo"] = True
    return Settings(**overrides)


def _add_storage_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", type=Path, help="data directory (default ./data)")
    parser.add_argument("--database-url", help="e.g. postgresql+asyncpg://user@host/db")


def _serve(args: argparse.Namespace) -> int:
    settings = _settings_from(args)
    configure_logging(settings.log_level, settings.log_json)
    app = create_app(settings)
    collector.install(app)
    web.run_app(
        app,
        host=settings.host,
        port=settings.port,
        print=None,
        access_log=None,
        handle_signals=True,
    )
    return 0


async def _with_session(settings: Settings, work: Callable[[Any], Awaitable[None]]) -> None:
    if not settings.database_url:  # the default SQLite file lives in the data dir
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = db.create_engine(settings.resolved_database_url())
    try:
        await db.migrate(engine)
        async with db.transaction(db.session_factory(engine)) as session:
            await work(session)
    finally:
        await engine.dispose()


def _validated(model: type[_Body], **values: Any) -> _Body:
    """The API's input rules (lengths, username pattern, ...) hold for the CLI as well."""
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise InvalidInput(f"{where}: {first['msg']}") from exc


def _admin(args: argparse.Namespace) -> int:
    settings = _settings_from(args)
    configure_logging("WARNING", settings.log_json)

    async def create_unit(session: Any) -> None:
        b = _validated(
            UnitIn, name=args.name, kind=args.kind, parent_id=args.parent, code=args.code
        )
        unit = await units.create_unit(session, None, b.name, b.kind, b.parent_id, b.code)
        print(f"unit {unit.id}: {unit.name} ({unit.kind})")

    async def create_user(session: Any) -> None:
        password = args.password or generate_password()
        b = _validated(
            AccountIn,
            username=args.username,
            full_name=args.full_name,
            unit_id=args.unit,
            role=args.role,
            password=password,
            email=args.email,
        )
        account = await accounts.create_account(
            session, None, b.username, b.full_name, b.unit_id, b.role, b.password, b.email
        )
        print(f"account {account.id}: {account.username} ({account.role})")
        if not args.password:
            print(f"password: {password}")

    async def create_endpoint(session: Any) -> None:
        b = _validated(EndpointIn, name=args.name, unit_id=args.unit)
        endpoint, token = await endpoints.create_endpoint(session, None, b.name, b.unit_id)
        print(f"endpoint {endpoint.id}: {endpoint.name}")
        print(f"device token (shown once): {token}")
        print(f"login link path: {device_login_path(token)}")

    async def reset_password(session: Any) -> None:
        found = [
            a for a in await accounts.list_accounts(session) if a.username == args.username.lower()
        ]
        if not found:
            raise DomainError(f"no account named {args.username!r}")
        password = args.password or generate_password()
        _validated(PasswordResetIn, new_password=password)
        await accounts.set_password(session, None, found[0].id or 0, password)
        from signaling.auth.sessions import close_sessions_of

        await close_sessions_of(session, found[0].id or 0)
        print(f"password of {found[0].username} reset" + ("" if args.password else f": {password}"))

    async def verify_audit(session: Any) -> None:
        chain = audit.chain_for(args.meeting) if args.meeting is not None else None
        reports = await audit.verify(session, chain)
        for report in reports:
            print(f"{report.chain}: {report.entries} entries, {'ok' if report.ok else 'BROKEN'}")
            for problem in report.problems:
                print(f"  {problem}")
        if not all(r.ok for r in reports):
            raise DomainError("the audit log does not verify: it was changed outside phonghop")

    work = {
        "verify-audit": verify_audit,
        "create-unit": create_unit,
        "create-user": create_user,
        "create-endpoint": create_endpoint,
        "reset-password": reset_password,
    }[args.command]
    try:
        asyncio.run(_with_session(settings, work))
    except DomainError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The command-line grammar."""
    parser = argparse.ArgumentParser(prog="phonghop", description="phonghop meeting server")
    sub = parser.add_subparsers(dest="action", required=True)

    serve = sub.add_parser("serve", help="run the server")
    serve.add_argument("--host", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default 8080)")
    _add_storage_options(serve)
    serve.add_argument("--redis-url", help="share socket.io rooms and presence through Redis")
    serve.add_argument("--demo", action="store_true", help="seed and start a demo meeting")
    serve.set_defaults(run=_serve)

    admin = sub.add_parser("admin", help="operator commands")
    admin_sub = admin.add_subparsers(dest="command", required=True)

    unit = admin_sub.add_parser("create-unit", help="create an administrative unit")
    unit.add_argument("name")
    unit.add_argument("--kind", required=True, choices=[k.value for k in UnitKind])
    unit.add_argument("--parent", type=int)
    unit.add_argument("--code")

    user = admin_sub.add_parser("create-user", help="create an account")
    user.add_argument("username")
    user.add_argument("--full-name", required=True)
    user.add_argument("--unit", type=int, required=True)
    user.add_argument("--role", required=True, choices=[r.value for r in Role])
    user.add_argument("--password", help="default: generate and print one")
    user.add_argument("--email", help="e-mail address for meeting invitations")

    endpoint = admin_sub.add_parser("create-endpoint", help="create a commune endpoint device")
    endpoint.add_argument("name")
    endpoint.add_argument("--unit", type=int, required=True)

    reset = admin_sub.add_parser("reset-password", help="set a new password")
    reset.add_argument("username")
    reset.add_argument("--password", help="default: generate and print one")

    verify = admin_sub.add_parser(
        "verify-audit", help="recompute the audit log's hash chains; exit 1 if tampered"
    )
    verify.add_argument("--meeting", type=int, help="only this meeting's chain")

    for p in (unit, user, endpoint, reset, verify):
        _add_storage_options(p)
        p.set_defaults(run=_admin)
    return parser


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``phonghop`` console script."""
    args = build_parser().parse_args(argv)
    sys.exit(args.run(args))
