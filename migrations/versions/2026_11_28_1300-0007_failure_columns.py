"""One failure, stored in columns of its own: a reason and its detail.

- recordings.last_error becomes failure_detail, beside failure_reason.
- assessments gain failure_reason and failure_detail: an answer the model gave that could not
  be read is `unparseable_output` with the parser's detail, which until now hid in the
  `failure` key of the JSON `flags` column. `flags` becomes the plain list of flags, and a
  check keeps status and failure in step.

Revision ID: 0007
Revises: 0005
Create Date: 2026-11-28 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHECK = "ck_assessments_failed_when_unparseable"


def upgrade() -> None:
    op.alter_column("recordings", "last_error", new_column_name="failure_detail")
    op.add_column("assessments", sa.Column("failure_reason", sa.Text(), nullable=True))
    op.add_column("assessments", sa.Column("failure_detail", sa.Text(), nullable=True))
    op.execute(
        """
        UPDATE assessments SET
            failure_reason = CASE WHEN status = 'unparseable' THEN 'unparseable_output' END,
            failure_detail = CASE WHEN status = 'unparseable' THEN coalesce(flags ->> 'failure', '') END,
            flags = coalesce(flags -> 'flags', '[]'::jsonb)
        """
    )
    op.create_check_constraint(op.f(CHECK), "assessments", "(status = 'unparseable') = (failure_reason IS NOT NULL)")


def downgrade() -> None:
    op.drop_constraint(op.f(CHECK), "assessments", type_="check")
    op.execute("UPDATE assessments SET flags = jsonb_build_object('flags', flags, 'failure', failure_detail)")
    op.drop_column("assessments", "failure_detail")
    op.drop_column("assessments", "failure_reason")
    op.alter_column("recordings", "failure_detail", new_column_name="last_error")
