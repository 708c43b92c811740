"""What one recording got wrong, for the read-only role: report_recording_feedback.

One row per word of each assessment of a recording's newest version (a recording without
phone diffs, such as an unparseable answer, has one row with an empty word): the scores,
the word's expected and heard phones, its number of errors, the errors marked (`EH→AE` a
substitution, `-R` a deletion, `+T` an insertion) and its operations as JSON.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 15:10:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REPORT_ROLE = "pronscore_report"

RECORDING_FEEDBACK = """
CREATE VIEW report_recording_feedback AS
WITH newest AS (
    SELECT DISTINCT ON (source_id) id
    FROM recordings
    ORDER BY source_id, created_at DESC, id DESC
), words AS (
    SELECT d.assessment_id, d.word_index, min(d.word) AS word,
           string_agg(d.expected, ' ' ORDER BY d.position) AS expected,
           string_agg(d.actual, ' ' ORDER BY d.position) AS heard,
           count(*) FILTER (WHERE d.op <> 'match') AS errors,
           string_agg(
               CASE d.op
                   WHEN 'substitution' THEN d.expected || '→' || d.actual
                   WHEN 'deletion' THEN '-' || d.expected
                   WHEN 'insertion' THEN '+' || d.actual
               END, ' ' ORDER BY d.position
           ) AS marked_errors,
           jsonb_agg(
               jsonb_build_object('op', d.op::text, 'expected', d.expected, 'actual', d.actual)
               ORDER BY d.position
           ) AS ops
    FROM phone_diffs d
    GROUP BY d.assessment_id, d.word_index
)
SELECT r.source_id AS recording_id, l.external_id AS learner_id, r.class_id, r.submitted_at,
       r.reference_text AS text, mv.name AS model, mv.is_human, mv.meaningless,
       a.status::text AS assessment_status, a.accuracy, a.fluency, a.prosodic, a.total,
       a.word_transcript, a.phoneme_transcript, a.created_at AS assessed_at,
       w.word_index, w.word, w.expected, w.heard, coalesce(w.errors, 0) AS errors, w.marked_errors, w.ops
FROM newest
JOIN recordings r ON r.id = newest.id
JOIN learners l ON l.id = r.learner_id
JOIN assessments a ON a.recording_id = r.id
JOIN model_versions mv ON mv.id = a.model_version_id
LEFT JOIN words w ON w.assessment_id = a.id
"""


def upgrade() -> None:
    op.execute(RECORDING_FEEDBACK)
    op.execute(f"GRANT SELECT ON report_recording_feedback TO {REPORT_ROLE}")


def downgrade() -> None:
    op.execute(f"REVOKE ALL ON report_recording_feedback FROM {REPORT_ROLE}")
    op.execute("DROP VIEW report_recording_feedback")
