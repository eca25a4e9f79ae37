"""Alembic environment: migrations run on a connection handed in by ``meetings.db``."""

from alembic import context
from sqlmodel import SQLModel

import meetings.schema  # noqa: F401  (registers every table on SQLModel.metadata)

target_metadata = SQLModel.metadata


def run_migrations() -> None:
    """Run with the connection given in ``config.attributes`` (online mode only)."""
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("phonghop migrations run through meetings.db.migrate()")
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
