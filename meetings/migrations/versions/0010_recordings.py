"""recordings of meetings, at most one in progress per meeting

Revision ID: 0010
Revises: 0003
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0010"
# A feature branch from the agenda, like documents, voting and minutes: it only refers to
# the meeting table.
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_RECORDING_NOW = sa.text("state = 'recording'")


def upgrade() -> None:
    op.create_table(
        "recording",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_by", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("stopped_by", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
        sa.Column("file_name", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("container", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("media_type", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column("sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("timeline_json", sa.Text(), nullable=True),
        sa.Column("tracks_json", sa.Text(), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["meeting_id"], ["meeting.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("recording", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_recording_meeting_id"), ["meeting_id"], unique=False)
        batch_op.create_index(
            "uq_recording_in_progress",
            ["meeting_id"],
            unique=True,
            sqlite_where=_RECORDING_NOW,
            postgresql_where=_RECORDING_NOW,
        )


def downgrade() -> None:
    with op.batch_alter_table("recording", schema=None) as batch_op:
        batch_op.drop_index("uq_recording_in_progress")
        batch_op.drop_index(batch_op.f("ix_recording_meeting_id"))
    op.drop_table("recording")
