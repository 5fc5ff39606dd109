"""consultants, case notes, case assignment and revisions

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 00:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "consultants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("languages", sa.String(length=60), nullable=False),
        sa.Column("available", sa.Boolean(), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("console_language", sa.String(length=8), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("username"),
    )
    # Added in place, not by copying the table: on SQLite a copy would drop `cases`, and
    # the drop would set every message's case_id to NULL (ON DELETE SET NULL).
    op.add_column(
        "cases",
        sa.Column("assignee_id", sa.Integer(), sa.ForeignKey("consultants.id"), nullable=True),
        inline_references=True,
    )
    op.add_column("cases", sa.Column("resolution", sa.String(length=40), nullable=True))
    op.add_column("cases", sa.Column("waiting_since", sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        "cases", sa.Column("revision", sa.BigInteger(), server_default="0", nullable=False)
    )
    op.create_index("ix_cases_assignee_id", "cases", ["assignee_id"])
    op.create_index("ix_cases_revision", "cases", ["revision"])
    # Cases still open wait since they were opened (and are answered or not, unknown).
    op.execute("UPDATE cases SET waiting_since = created_at WHERE status IN ('queued', 'assigned')")
    clock = op.create_table(
        "case_clock",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.bulk_insert(clock, [{"id": 1, "revision": 0}])
    op.create_table(
        "case_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["author_id"], ["consultants.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_case_notes_case_id", "case_notes", ["case_id"])


def downgrade() -> None:
    op.drop_index("ix_case_notes_case_id", table_name="case_notes")
    op.drop_table("case_notes")
    op.drop_table("case_clock")
    op.drop_index("ix_cases_revision", table_name="cases")
    op.drop_index("ix_cases_assignee_id", table_name="cases")
    for column in ("revision", "waiting_since", "resolution"):
        op.drop_column("cases", column)
    if op.get_bind().dialect.name != "sqlite":
        op.drop_column("cases", "assignee_id")
        op.drop_table("consultants")
        return
    # SQLite cannot drop a column with a foreign key, so the table is copied; dropping the
    # old one sets every message's case_id to NULL (ON DELETE SET NULL), so keep them.
    op.execute(
        "CREATE TEMPORARY TABLE kept_case_ids AS "
        "SELECT id, case_id FROM messages WHERE case_id IS NOT NULL"
    )
    with op.batch_alter_table("cases", recreate="always") as batch:
        batch.drop_column("assignee_id")
    op.execute(
        "UPDATE messages SET case_id = "
        "(SELECT case_id FROM kept_case_ids WHERE kept_case_ids.id = messages.id) "
        "WHERE id IN (SELECT id FROM kept_case_ids)"
    )
    op.execute("DROP TABLE kept_case_ids")
    op.drop_table("consultants")
