"""data rights: plan versions under legal hold, and the retained copies that outlive an erasure

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06 21:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("plan_version", schema=None) as batch_op:
        batch_op.add_column(sa.Column("legal_hold", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.create_table(
        "retained_plan",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("signer_name", sa.String(length=120), nullable=False),
        sa.Column("signed_at", sa.DateTime(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("retained_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("retained_plan", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_retained_plan_subject"), ["subject"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("retained_plan", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_retained_plan_subject"))
    op.drop_table("retained_plan")
    with op.batch_alter_table("plan_version", schema=None) as batch_op:
        batch_op.drop_column("legal_hold")
