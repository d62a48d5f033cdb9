"""per-person encryption: the sealed free-text columns become Text (a sealed value is longer than its text)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07 01:50:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_WIDENED = (("meal_entry", "text", 500), ("symptom_entry", "note", 500), ("upload", "filename", 200))


def upgrade() -> None:
    for table, column, length in _WIDENED:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column(
                column, existing_type=sa.String(length=length), type_=sa.Text(), existing_nullable=False
            )


def downgrade() -> None:
    # a sealed value longer than the old width would not fit: narrowing fails loudly rather than cut it
    for table, column, length in reversed(_WIDENED):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column(
                column, existing_type=sa.Text(), type_=sa.String(length=length), existing_nullable=False
            )
