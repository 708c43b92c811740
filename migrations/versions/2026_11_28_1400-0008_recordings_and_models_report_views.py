"""What the teacher's site reads as the read-only role: report_recordings and report_model_versions.

- report_recordings: one row per recording's newest version: learner, class, run, text, status,
  failure reason and detail, length, and the store URI of its audio (NULL for a recording known
  only from imported ratings, whose audio is a local path that was never uploaded).
- report_model_versions: every model version and rater with its engine, whether its scores mean
  nothing (the tiny test checkpoint), its number of assessments, and `preference`, the order in
  which reports choose their default model (machine models first, the newest first).
- report_recording_feedback (same columns) finds a recording's newest version with NOT EXISTS
  over the (source_id, sha256) index and gathers each assessment's words through a LATERAL
  subquery over the phone_diffs index, instead of sorting every recording and aggregating every
  phone diff of the database, then joining: right after a night's writes, before autovacuum has
  analyzed the tables, the planner re-did both for each row (224 s for a class of 30 x 40
  recordings; 0.4 s once analyzed). Now each row costs a few index scans whatever the statistics.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28 12:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REPORT_ROLE = "pronscore_report"

# A recording version is the newest of its recording_id when none was registered after it (the
# order of report_recording_feedback in 0004), found through the (source_id, sha256) index.
NEWEST = """NOT EXISTS (
    SELECT 1 FROM recordings v
    WHERE v.source_id = r.source_id AND (v.created_at, v.id) > (r.created_at, r.id)
)"""

VIEWS = {
    "report_recordings": f"""
CREATE VIEW report_recordings AS
SELECT r.source_id AS recording_id, l.external_id AS learner_id, r.class_id, runs.name AS run,
       r.submitted_at, date_trunc('week', r.submitted_at AT TIME ZONE 'UTC')::date AS week,
       r.reference_text AS text, r.status::text AS status, r.failure_reason AS reason, r.failure_detail AS detail,
       r.duration_seconds,
       CASE WHEN r.storage_uri LIKE 's3://%' THEN r.storage_uri END AS audio_uri,
       r.sha256 AS audio_sha256
FROM recordings r
JOIN learners l ON l.id = r.learner_id
LEFT JOIN runs ON runs.id = r.run_id
WHERE {NEWEST}
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


# The words of one assessment: from every phone diff at once (0004), or per assessment (now).
WORDS_0004 = """
LEFT JOIN (
    SELECT d.assessment_id, d.word_index, {aggregates}
    FROM phone_diffs d
    GROUP BY d.assessment_id, d.word_index
) w ON w.assessment_id = a.id
"""
WORDS_LATERAL = """
LEFT JOIN LATERAL (
    SELECT d.word_index, {aggregates}
    FROM phone_diffs d
    WHERE d.assessment_id = a.id
    GROUP BY d.word_index
) w ON true
"""
WORD_AGGREGATES = """min(d.word) AS word,
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
           ) AS ops"""
RECORDING_FEEDBACK = """
CREATE OR REPLACE VIEW report_recording_feedback AS
{with_newest}
SELECT r.source_id AS recording_id, l.external_id AS learner_id, r.class_id, r.submitted_at,
       r.reference_text AS text, mv.name AS model, mv.is_human, mv.meaningless,
       a.status::text AS assessment_status, a.accuracy, a.fluency, a.prosodic, a.total,
       a.word_transcript, a.phoneme_transcript, a.created_at AS assessed_at,
       w.word_index, w.word, w.expected, w.heard, coalesce(w.errors, 0) AS errors, w.marked_errors, w.ops
{from_newest}
JOIN learners l ON l.id = r.learner_id
JOIN assessments a ON a.recording_id = r.id
JOIN model_versions mv ON mv.id = a.model_version_id
{words}
{where_newest}
"""
NEWEST_0004 = {
    "with_newest": """WITH newest AS (
    SELECT DISTINCT ON (source_id) id
    FROM recordings
    ORDER BY source_id, created_at DESC, id DESC
)""",
    "from_newest": "FROM newest\nJOIN recordings r ON r.id = newest.id",
    "where_newest": "",
}
NEWEST_INDEXED = {"with_newest": "", "from_newest": "FROM recordings r", "where_newest": f"WHERE {NEWEST}"}


def upgrade() -> None:
    for statement in VIEWS.values():
        op.execute(statement)
    op.execute(f"GRANT SELECT ON {', '.join(VIEWS)} TO {REPORT_ROLE}")
    op.execute(RECORDING_FEEDBACK.format(words=WORDS_LATERAL.format(aggregates=WORD_AGGREGATES), **NEWEST_INDEXED))


def downgrade() -> None:
    op.execute(RECORDING_FEEDBACK.format(words=WORDS_0004.format(aggregates=WORD_AGGREGATES), **NEWEST_0004))
    op.execute(f"REVOKE ALL ON {', '.join(VIEWS)} FROM {REPORT_ROLE}")
    for name in reversed(VIEWS):
        op.execute(f"DROP VIEW {name}")
