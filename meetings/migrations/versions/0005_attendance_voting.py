"""attendance, quorum rule and voting (polls, options, voters, receipts, named ballots)

Revision ID: 0005
Revises: 0003
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0005"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _text(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    op.create_table(
        "attendance",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("attendee_key", _text(40), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("endpoint_id", sa.Integer(), nullable=True),
        sa.Column("state", _text(16), nullable=False),
        sa.Column("mode", _text(16), nullable=True),
        sa.Column("reason", _text(500), nullable=False),
        sa.Column("checked_in_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("recorded_by", _text(40), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"]),
        sa.ForeignKeyConstraint(["endpoint_id"], ["endpoint.id"]),
        sa.ForeignKeyConstraint(["meeting_id"], ["meeting.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("meeting_id", "attendee_key", name="uq_attendance"),
    )
    with op.batch_alter_table("attendance", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_attendance_account_id"), ["account_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_attendance_endpoint_id"), ["endpoint_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_attendance_meeting_id"), ["meeting_id"], unique=False)
    op.create_table(
        "meeting_quorum",
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("rule", _text(16), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["meeting_id"], ["meeting.id"]),
        sa.PrimaryKeyConstraint("meeting_id"),
    )
    op.create_table(
        "poll",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("agenda_item_id", sa.Integer(), nullable=True),
        sa.Column("title", _text(500), nullable=False),
        sa.Column("description", _text(4000), nullable=False),
        sa.Column("kind", _text(16), nullable=False),
        sa.Column("min_choices", sa.Integer(), nullable=False),
        sa.Column("max_choices", sa.Integer(), nullable=False),
        sa.Column("secret", sa.Boolean(), nullable=False),
        sa.Column("allow_change", sa.Boolean(), nullable=False),
        sa.Column("majority", _text(24), nullable=False),
        sa.Column("quorum_required", sa.Boolean(), nullable=False),
        sa.Column("state", _text(16), nullable=False),
        sa.Column("created_by", _text(40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("members_count", sa.Integer(), nullable=False),
        sa.Column("present_count", sa.Integer(), nullable=False),
        sa.Column("quorum_rule", _text(16), nullable=False),
        sa.Column("quorum_met", sa.Boolean(), nullable=True),
        sa.Column("ballot_count", sa.Integer(), nullable=False),
        sa.Column("blank_count", sa.Integer(), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", _text(16), nullable=True),
        sa.Column("decided_by", _text(500), nullable=False),
        sa.Column("result_json", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["agenda_item_id"], ["agenda_item.id"]),
        sa.ForeignKeyConstraint(["meeting_id"], ["meeting.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("poll", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_poll_agenda_item_id"), ["agenda_item_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_poll_meeting_id"), ["meeting_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_poll_state"), ["state"], unique=False)
    op.create_table(
        "poll_option",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("poll_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("label", _text(300), nullable=False),
        sa.Column("votes", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["poll_id"], ["poll.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("poll_id", "position", name="uq_poll_option_position"),
    )
    with op.batch_alter_table("poll_option", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_poll_option_poll_id"), ["poll_id"], unique=False)
    op.create_table(
        "poll_voter",
        sa.Column("poll_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"]),
        sa.ForeignKeyConstraint(["poll_id"], ["poll.id"]),
        sa.PrimaryKeyConstraint("poll_id", "account_id"),
    )
    # One ballot per voter: the primary key. No id, no timestamp (see meetings/voting/models.py).
    op.create_table(
        "poll_receipt",
        sa.Column("poll_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["poll_id", "account_id"], ["poll_voter.poll_id", "poll_voter.account_id"]
        ),
        sa.PrimaryKeyConstraint("poll_id", "account_id"),
    )
    op.create_table(
        "poll_ballot",
        sa.Column("poll_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("option_id", sa.Integer(), nullable=False),
        sa.Column("cast_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["option_id"], ["poll_option.id"]),
        sa.ForeignKeyConstraint(
            ["poll_id", "account_id"], ["poll_receipt.poll_id", "poll_receipt.account_id"]
        ),
        sa.PrimaryKeyConstraint("poll_id", "account_id", "option_id"),
    )


def downgrade() -> None:
    op.drop_table("poll_ballot")
    op.drop_table("poll_receipt")
    op.drop_table("poll_voter")
    with op.batch_alter_table("poll_option", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_poll_option_poll_id"))
    op.drop_table("poll_option")
    with op.batch_alter_table("poll", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_poll_state"))
        batch_op.drop_index(batch_op.f("ix_poll_meeting_id"))
        batch_op.drop_index(batch_op.f("ix_poll_agenda_item_id"))
    op.drop_table("poll")
    op.drop_table("meeting_quorum")
    with op.batch_alter_table("attendance", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_attendance_meeting_id"))
        batch_op.drop_index(batch_op.f("ix_attendance_endpoint_id"))
        batch_op.drop_index(batch_op.f("ix_attendance_account_id"))
    op.drop_table("attendance")
