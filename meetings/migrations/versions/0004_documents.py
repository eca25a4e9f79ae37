"""documents: versions, page text, stamped copies, read receipts, comments

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _string(length: int) -> sa.types.TypeEngine:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    op.create_table(
        "document",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("agenda_item_id", sa.Integer(), nullable=True),
        sa.Column("title", _string(300), nullable=False),
        sa.Column("confidential", sa.Boolean(), nullable=False),
        sa.Column("state", _string(16), nullable=False),
        sa.Column("publish_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("current_version", sa.Integer(), nullable=False),
        sa.Column("created_by", _string(40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["meeting_id"], ["meeting.id"]),
        sa.ForeignKeyConstraint(["agenda_item_id"], ["agenda_item.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("document", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_document_meeting_id"), ["meeting_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_document_agenda_item_id"), ["agenda_item_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_document_state"), ["state"], unique=False)
        batch_op.create_index(batch_op.f("ix_document_publish_at"), ["publish_at"], unique=False)

    op.create_table(
        "document_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("sha256", _string(64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("filename", _string(255), nullable=False),
        sa.Column("uploaded_by", _string(40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["document_id"], ["document.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("document_id", "number", name="uq_document_version"),
    )
    with op.batch_alter_table("document_version", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_document_version_document_id"), ["document_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_document_version_sha256"), ["sha256"], unique=False)

    op.create_table(
        "document_page",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("page", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("norm", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["version_id"], ["document_version.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("version_id", "page", name="uq_document_page"),
    )
    with op.batch_alter_table("document_page", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_document_page_version_id"), ["version_id"], unique=False
        )

    op.create_table(
        "document_copy",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("recipient", _string(40), nullable=False),
        sa.Column("recipient_name", _string(200), nullable=False),
        sa.Column("unit_name", _string(200), nullable=False),
        sa.Column("sha256", _string(64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("stamped_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["version_id"], ["document_version.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("version_id", "recipient", name="uq_document_copy"),
    )
    with op.batch_alter_table("document_copy", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_document_copy_version_id"), ["version_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_document_copy_sha256"), ["sha256"], unique=False)

    op.create_table(
        "document_receipt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("reader", _string(40), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["document_id"], ["document.id"]),
        sa.ForeignKeyConstraint(["version_id"], ["document_version.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("version_id", "reader", name="uq_document_receipt"),
    )
    with op.batch_alter_table("document_receipt", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_document_receipt_document_id"), ["document_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_document_receipt_version_id"), ["version_id"], unique=False
        )

    op.create_table(
        "document_comment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("page", sa.Integer(), nullable=False),
        sa.Column("body", _string(4000), nullable=False),
        sa.Column("author", _string(40), nullable=False),
        sa.Column("author_name", _string(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["document_id"], ["document.id"]),
        sa.ForeignKeyConstraint(["version_id"], ["document_version.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("document_comment", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_document_comment_document_id"), ["document_id"], unique=False
        )


def downgrade() -> None:
    for table, indexes in (
        ("document_comment", ["document_id"]),
        ("document_receipt", ["version_id", "document_id"]),
        ("document_copy", ["sha256", "version_id"]),
        ("document_page", ["version_id"]),
        ("document_version", ["sha256", "document_id"]),
        ("document", ["publish_at", "state", "agenda_item_id", "meeting_id"]),
    ):
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in indexes:
                batch_op.drop_index(batch_op.f(f"ix_{table}_{column}"))
        op.drop_table(table)
