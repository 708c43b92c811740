"""Per-word and per-phone scores (the GOP engine's), and the report view over words.

- word_scores: each word's accuracy (0-10) and error type (None, Mispronunciation, Omission,
  Insertion), keyed on (assessment, word index).
- phone_scores: each canonical phone's score (0-2), start and duration in seconds, GOP and the
  phone heard in its place, keyed on (assessment, position).
- report_word_scores: one row per scored word of a recording's latest version, with its learner,
  class, model and week; the read-only role may read it.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 15:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REPORT_ROLE = "pronscore_report"

WORD_SCORES_VIEW = """
CREATE VIEW report_word_scores AS
SELECT l.external_id AS learner_id, r.class_id, mv.name AS model, r.source_id AS recording_id,
       r.submitted_at, date_trunc('week', r.submitted_at AT TIME ZONE 'UTC')::date AS week,
       w.word_index, w.word, w.accuracy, w.error_type
FROM word_scores w
JOIN assessments a ON a.id = w.assessment_id
JOIN recordings r ON r.id = a.recording_id
JOIN learners l ON l.id = r.learner_id
JOIN model_versions mv ON mv.id = a.model_version_id
WHERE r.id = (SELECT max(v.id) FROM recordings v WHERE v.source_id = r.source_id)
"""


def upgrade() -> None:
    op.create_table(
        "word_scores",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("assessment_id", sa.BigInteger(), nullable=False),
        sa.Column("word_index", sa.Integer(), nullable=False),
        sa.Column("word", sa.Text(), nullable=False),
        sa.Column("accuracy", sa.Float(), nullable=True),
        sa.Column("error_type", sa.Text(), nullable=False),
        sa.CheckConstraint("accuracy BETWEEN 0 AND 10", name=op.f("ck_word_scores_accuracy_range")),
        sa.ForeignKeyConstraint(
            ["assessment_id"],
            ["assessments.id"],
            name=op.f("fk_word_scores_assessment_id_assessments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_word_scores")),
        sa.UniqueConstraint("assessment_id", "word_index", name=op.f("uq_word_scores_assessment_id_word_index")),
    )
    op.create_table(
        "phone_scores",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("assessment_id", sa.BigInteger(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("word_index", sa.Integer(), nullable=False),
        sa.Column("phone", sa.Text(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("start_seconds", sa.Float(), nullable=False),
        sa.Column("duration_seconds", sa.Float(), nullable=False),
        sa.Column("gop", sa.Float(), nullable=False),
        sa.Column("heard", sa.Text(), nullable=True),
        sa.CheckConstraint("score BETWEEN 0 AND 2", name=op.f("ck_phone_scores_score_range")),
        sa.ForeignKeyConstraint(
            ["assessment_id"],
            ["assessments.id"],
            name=op.f("fk_phone_scores_assessment_id_assessments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_phone_scores")),
        sa.UniqueConstraint("assessment_id", "position", name=op.f("uq_phone_scores_assessment_id_position")),
    )
    op.execute(WORD_SCORES_VIEW)
    op.execute(f"GRANT SELECT ON report_word_scores TO {REPORT_ROLE}")


def downgrade() -> None:
    op.execute(f"REVOKE ALL ON report_word_scores FROM {REPORT_ROLE}")
    op.execute("DROP VIEW report_word_scores")
    op.drop_table("phone_scores")
    op.drop_table("word_scores")
