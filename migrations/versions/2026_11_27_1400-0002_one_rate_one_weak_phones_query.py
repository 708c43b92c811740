"""One meaning of a run's rate, one definition of the weak-phones aggregation, no unused column.

- report_run_summary: recordings per second counts every finished recording (scored or
  failed), as `pronscore status` does.
- report_class_weak_phones becomes a call of report_class_weak_phones_since(NULL); the
  `class-weak-phones` report calls the same function with its --since date, so the
  aggregation exists once. The function reads report_phone_confusions_weekly with the
  caller's rights, which the read-only role has.
- batches.enqueued_at was written and never read: the sweep asks the broker instead.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REPORT_ROLE = "pronscore_report"

RUN_SUMMARY = """
CREATE OR REPLACE VIEW report_run_summary AS
WITH counts AS (
    SELECT run_id,
           count(*) AS recordings,
           count(*) FILTER (WHERE status = 'queued') AS queued,
           count(*) FILTER (WHERE status = 'scoring') AS scoring,
           count(*) FILTER (WHERE status = 'scored') AS scored,
           count(*) FILTER (WHERE status = 'failed') AS failed,
           round((coalesce(sum(duration_seconds), 0) / 3600.0)::numeric, 4) AS audio_hours
    FROM recordings
    WHERE run_id IS NOT NULL
    GROUP BY run_id
), reasons AS (
    SELECT run_id, jsonb_object_agg(failure_reason, n ORDER BY failure_reason) AS failures
    FROM (
        SELECT run_id, failure_reason, count(*) AS n
        FROM recordings
        WHERE status = 'failed' AND run_id IS NOT NULL
        GROUP BY run_id, failure_reason
    ) grouped
    GROUP BY run_id
), timing AS (
    SELECT run_id, min(started_at) AS started_at, max(finished_at) AS last_batch_at
    FROM batches
    GROUP BY run_id
)
SELECT runs.name AS run, mv.name AS model, runs.created_at, runs.finished_at,
       coalesce(c.recordings, 0) AS recordings, coalesce(c.queued, 0) AS queued,
       coalesce(c.scoring, 0) AS scoring, coalesce(c.scored, 0) AS scored,
       coalesce(c.failed, 0) AS failed, coalesce(r.failures, '{{}}'::jsonb) AS failures,
       coalesce(c.audio_hours, 0) AS audio_hours,
       round(({finished} / nullif(extract(epoch FROM t.last_batch_at - t.started_at), 0))::numeric, 3)
           AS recordings_per_second
FROM runs
LEFT JOIN model_versions mv ON mv.id = runs.model_version_id
LEFT JOIN counts c ON c.run_id = runs.id
LEFT JOIN reasons r ON r.run_id = runs.id
LEFT JOIN timing t ON t.run_id = runs.id
"""

WEAK_PHONES_SINCE = """
CREATE FUNCTION report_class_weak_phones_since(since date)
RETURNS TABLE (rank bigint, class_id text, model text, expected text, actual text, op text,
               occurrences bigint, expected_count bigint, rate numeric)
LANGUAGE sql STABLE AS $$
WITH selected AS (
    SELECT *
    FROM report_phone_confusions_weekly w
    WHERE since IS NULL OR w.week >= date_trunc('week', since)::date
), expected AS (
    SELECT s.class_id, s.model, s.expected, sum(s.occurrences)::bigint AS expected_count
    FROM selected s
    WHERE s.expected IS NOT NULL
    GROUP BY s.class_id, s.model, s.expected
), errors AS (
    SELECT s.class_id, s.model, s.expected, s.actual, s.op, sum(s.occurrences)::bigint AS occurrences
    FROM selected s
    WHERE s.op IN ('substitution', 'deletion')
    GROUP BY s.class_id, s.model, s.expected, s.actual, s.op
)
SELECT rank() OVER (PARTITION BY e.class_id, e.model ORDER BY e.occurrences DESC),
       e.class_id, e.model, e.expected, e.actual, e.op, e.occurrences, x.expected_count,
       round(e.occurrences::numeric / x.expected_count, 4)
FROM errors e
JOIN expected x
    ON x.class_id IS NOT DISTINCT FROM e.class_id AND x.model = e.model AND x.expected = e.expected
$$
"""

WEAK_PHONES_VIEW = """
CREATE OR REPLACE VIEW report_class_weak_phones AS
SELECT * FROM report_class_weak_phones_since(NULL)
"""

# The view as revision 0001 created it, for the downgrade.
WEAK_PHONES_VIEW_0001 = """
CREATE OR REPLACE VIEW report_class_weak_phones AS
WITH expected AS (
    SELECT class_id, model, expected, sum(occurrences)::bigint AS expected_count
    FROM report_phone_confusions_weekly
    WHERE expected IS NOT NULL
    GROUP BY class_id, model, expected
), errors AS (
    SELECT class_id, model, expected, actual, op, sum(occurrences)::bigint AS occurrences
    FROM report_phone_confusions_weekly
    WHERE op IN ('substitution', 'deletion')
    GROUP BY class_id, model, expected, actual, op
)
SELECT rank() OVER (PARTITION BY e.class_id, e.model ORDER BY e.occurrences DESC) AS rank,
       e.class_id, e.model, e.expected, e.actual, e.op, e.occurrences, x.expected_count,
       round(e.occurrences::numeric / x.expected_count, 4) AS rate
FROM errors e
JOIN expected x
    ON x.class_id IS NOT DISTINCT FROM e.class_id AND x.model = e.model AND x.expected = e.expected
"""


def upgrade() -> None:
    op.execute(RUN_SUMMARY.format(finished="(c.scored + c.failed)"))
    op.execute(WEAK_PHONES_SINCE)
    op.execute(WEAK_PHONES_VIEW)
    op.execute(f"GRANT EXECUTE ON FUNCTION report_class_weak_phones_since(date) TO {REPORT_ROLE}")
    op.drop_column("batches", "enqueued_at")


def downgrade() -> None:
    op.add_column("batches", sa.Column("enqueued_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(WEAK_PHONES_VIEW_0001)
    op.execute("DROP FUNCTION report_class_weak_phones_since(date)")
    op.execute(RUN_SUMMARY.format(finished="c.scored"))
