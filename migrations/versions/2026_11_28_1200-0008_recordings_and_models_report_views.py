"""What the teacher's site reads as the read-only role: report_recordings and report_model_versions.

- report_recordings: one row per recording's newest version: learner, class, run, text, status,
  failure reason and detail, length, and the store URI of its audio (NULL for a recording known
  only from imported ratings, whose audio is a local path that was never uploaded).
- report_model_versions: every model version and rater with its engine, whether its scores mean
  nothing (the tiny test checkpoint), its number of assessments, and `preference`, the order in
  which reports choose their default model (machine models first, the newest first).

Revision ID: 0008
Revises: 0005
Create Date: 2026-11-28 12:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REPORT_ROLE = "pronscore_report"

VIEWS = {
    "report_recordings": """
CREATE VIEW report_recordings AS
WITH newest AS (
    SELECT DISTINCT ON (source_id) id
    FROM recordings
    ORDER BY source_id, created_at DESC, id DESC
)
SELECT r.source_id AS recording_id, l.external_id AS learner_id, r.class_id, runs.name AS run,
       r.submitted_at, date_trunc('week', r.submitted_at AT TIME ZONE 'UTC')::date AS week,
       r.reference_text AS text, r.status::text AS status, r.failure_reason AS reason, r.last_error AS detail,
       r.duration_seconds,
       CASE WHEN r.storage_uri LIKE 's3://%' THEN r.storage_uri END AS audio_uri,
       r.sha256 AS audio_sha256
FROM newest
JOIN recordings r ON r.id = newest.id
JOIN learners l ON l.id = r.learner_id
LEFT JOIN runs ON runs.id = r.run_id
""",
    "report_model_versions": """
CREATE VIEW report_model_versions AS
SELECT mv.name AS model,
       CASE WHEN mv.is_human THEN 'human' ELSE coalesce(mv.decoding->>'engine', 'phi4mm') END AS engine,
       mv.is_human, mv.meaningless, mv.base_model, mv.task_format, mv.created_at,
       (SELECT count(*) FROM assessments a WHERE a.model_version_id = mv.id) AS assessments,
       row_number() OVER (ORDER BY mv.is_human, mv.created_at DESC, mv.id DESC) AS preference
FROM model_versions mv
""",
}


def upgrade() -> None:
    for statement in VIEWS.values():
        op.execute(statement)
    op.execute(f"GRANT SELECT ON {', '.join(VIEWS)} TO {REPORT_ROLE}")


def downgrade() -> None:
    op.execute(f"REVOKE ALL ON {', '.join(VIEWS)} FROM {REPORT_ROLE}")
    for name in reversed(VIEWS):
        op.execute(f"DROP VIEW {name}")
