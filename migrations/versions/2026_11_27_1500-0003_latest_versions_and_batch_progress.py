"""Reports count the latest audio version of a recording only; batches note their progress.

- report_learner_progress and report_phone_confusions_weekly (and through it
  report_class_weak_phones) read only the newest version of each recording_id: a re-recorded
  sentence replaces the old take instead of being counted beside it.
- batches.chunks_done / chunks_total: how far the worker holding a batch has come, for
  `pronscore status`.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A recording version is the latest when no newer version of its recording_id was registered.
LATEST = "AND r.id = (SELECT max(v.id) FROM recordings v WHERE v.source_id = r.source_id)"

LEARNER_PROGRESS = """
CREATE OR REPLACE VIEW report_learner_progress AS
WITH scored AS (
    SELECT l.external_id AS learner_id, r.class_id, mv.name AS model,
           date_trunc('week', r.submitted_at AT TIME ZONE 'UTC')::date AS week,
           a.accuracy, a.fluency, a.prosodic, a.total
    FROM assessments a
    JOIN recordings r ON r.id = a.recording_id
    JOIN learners l ON l.id = r.learner_id
    JOIN model_versions mv ON mv.id = a.model_version_id
    WHERE a.status = 'scored' {latest}
), weekly AS (
    SELECT learner_id, class_id, model, week, count(*) AS recordings,
           round(avg(accuracy), 2) AS accuracy, round(avg(fluency), 2) AS fluency,
           round(avg(prosodic), 2) AS prosodic, round(avg(total), 2) AS total
    FROM scored
    GROUP BY learner_id, class_id, model, week
), with_first AS (
    SELECT weekly.*,
           first_value(accuracy) OVER learner_weeks AS first_accuracy,
           first_value(fluency) OVER learner_weeks AS first_fluency,
           first_value(prosodic) OVER learner_weeks AS first_prosodic,
           first_value(total) OVER learner_weeks AS first_total
    FROM weekly
    WINDOW learner_weeks AS (PARTITION BY learner_id, class_id, model ORDER BY week)
), calendar AS (
    SELECT learner_id, class_id, model, generate_series(min(week), max(week), interval '1 week')::date AS week
    FROM weekly
    GROUP BY learner_id, class_id, model
)
SELECT c.learner_id, c.class_id, c.model, c.week,
       to_char(c.week, 'IYYY-"W"IW') AS iso_week,
       coalesce(w.recordings, 0) AS recordings,
       w.accuracy, w.fluency, w.prosodic, w.total,
       w.accuracy - w.first_accuracy AS accuracy_change,
       w.fluency - w.first_fluency AS fluency_change,
       w.prosodic - w.first_prosodic AS prosodic_change,
       w.total - w.first_total AS total_change
FROM calendar c
LEFT JOIN with_first w
    ON w.learner_id = c.learner_id AND w.class_id IS NOT DISTINCT FROM c.class_id
    AND w.model = c.model AND w.week = c.week
"""

PHONE_CONFUSIONS_WEEKLY = """
CREATE OR REPLACE VIEW report_phone_confusions_weekly AS
SELECT r.class_id, mv.name AS model,
       date_trunc('week', r.submitted_at AT TIME ZONE 'UTC')::date AS week,
       d.expected, d.actual, d.op::text AS op, count(*) AS occurrences
FROM phone_diffs d
JOIN assessments a ON a.id = d.assessment_id
JOIN recordings r ON r.id = a.recording_id
JOIN model_versions mv ON mv.id = a.model_version_id
WHERE a.status = 'scored' {latest}
GROUP BY r.class_id, mv.name, week, d.expected, d.actual, d.op
"""


def upgrade() -> None:
    op.add_column("batches", sa.Column("chunks_done", sa.Integer(), server_default="0", nullable=False))
    op.add_column("batches", sa.Column("chunks_total", sa.Integer(), nullable=True))
    op.execute(LEARNER_PROGRESS.format(latest=LATEST))
    op.execute(PHONE_CONFUSIONS_WEEKLY.format(latest=LATEST))


def downgrade() -> None:
    op.execute(PHONE_CONFUSIONS_WEEKLY.format(latest=""))
    op.execute(LEARNER_PROGRESS.format(latest=""))
    op.drop_column("batches", "chunks_total")
    op.drop_column("batches", "chunks_done")
