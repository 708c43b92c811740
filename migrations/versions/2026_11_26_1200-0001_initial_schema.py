"""Initial schema: tables, report views and the read-only reporting role.

Revision ID: 0001
Revises:
Create Date: 2026-11-26 12:00:34.209584
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


REPORT_ROLE = "pronscore_report"

VIEWS = {
    "report_learner_progress": """
CREATE VIEW report_learner_progress AS
WITH scored AS (
    SELECT l.external_id AS learner_id, r.class_id, mv.name AS model,
           date_trunc('week', r.submitted_at AT TIME ZONE 'UTC')::date AS week,
           a.accuracy, a.fluency, a.prosodic, a.total
    FROM assessments a
    JOIN recordings r ON r.id = a.recording_id
    JOIN learners l ON l.id = r.learner_id
    JOIN model_versions mv ON mv.id = a.model_version_id
    WHERE a.status = 'scored'
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
""",
    "report_phone_confusions_weekly": """
CREATE VIEW report_phone_confusions_weekly AS
SELECT r.class_id, mv.name AS model,
       date_trunc('week', r.submitted_at AT TIME ZONE 'UTC')::date AS week,
       d.expected, d.actual, d.op::text AS op, count(*) AS occurrences
FROM phone_diffs d
JOIN assessments a ON a.id = d.assessment_id
JOIN recordings r ON r.id = a.recording_id
JOIN model_versions mv ON mv.id = a.model_version_id
WHERE a.status = 'scored'
GROUP BY r.class_id, mv.name, week, d.expected, d.actual, d.op
""",
    "report_class_weak_phones": """
CREATE VIEW report_class_weak_phones AS
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
""",
    "report_run_summary": """
CREATE VIEW report_run_summary AS
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
       coalesce(c.failed, 0) AS failed, coalesce(r.failures, '{}'::jsonb) AS failures,
       coalesce(c.audio_hours, 0) AS audio_hours,
       round((c.scored / nullif(extract(epoch FROM t.last_batch_at - t.started_at), 0))::numeric, 3)
           AS recordings_per_second
FROM runs
LEFT JOIN model_versions mv ON mv.id = runs.model_version_id
LEFT JOIN counts c ON c.run_id = runs.id
LEFT JOIN reasons r ON r.run_id = runs.id
LEFT JOIN timing t ON t.run_id = runs.id
""",
}


def create_report_role() -> None:
    """A login role that may read the report views and nothing else; it is shared by every
    database of the cluster, so it is created only if missing."""
    op.execute(
        f"""
        DO $$ BEGIN
            CREATE ROLE {REPORT_ROLE} LOGIN;
        EXCEPTION WHEN duplicate_object THEN NULL;
        END $$
        """
    )
    op.execute(f"GRANT USAGE ON SCHEMA public TO {REPORT_ROLE}")
    op.execute(f"GRANT SELECT ON {', '.join(VIEWS)} TO {REPORT_ROLE}")


def drop_report_role() -> None:
    """Revoke this database's grants, and drop the role unless another database still uses it."""
    op.execute(f"REVOKE ALL ON {', '.join(VIEWS)} FROM {REPORT_ROLE}")
    op.execute(f"REVOKE USAGE ON SCHEMA public FROM {REPORT_ROLE}")
    op.execute(
        f"""
        DO $$ BEGIN
            DROP ROLE {REPORT_ROLE};
        EXCEPTION WHEN dependent_objects_still_exist THEN NULL;
        END $$
        """
    )


def upgrade() -> None:
    op.create_table(
        "learners",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("external_id", sa.Text(), nullable=False),
        sa.Column("class_id", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_learners")),
        sa.UniqueConstraint("external_id", name=op.f("uq_learners_external_id")),
    )
    op.create_table(
        "model_versions",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("is_human", sa.Boolean(), nullable=False),
        sa.Column("base_model", sa.Text(), nullable=True),
        sa.Column("base_revision", sa.Text(), nullable=True),
        sa.Column("adapter_sha256", sa.Text(), nullable=True),
        sa.Column("task_format", sa.Text(), nullable=True),
        sa.Column("decoding", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("meaningless", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_versions")),
        sa.UniqueConstraint("name", name=op.f("uq_model_versions_name")),
    )
    op.create_table(
        "runs",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("model_version_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["model_version_id"], ["model_versions.id"], name=op.f("fk_runs_model_version_id_model_versions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_runs")),
        sa.UniqueConstraint("name", name=op.f("uq_runs_name")),
    )
    op.create_table(
        "batches",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.Enum("queued", "running", "done", name="batch_status"), nullable=False),
        sa.Column("audio_seconds", sa.Float(), nullable=False),
        sa.Column("lease_owner", sa.Text(), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("enqueued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_batches_run_id_runs"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_batches")),
    )
    op.create_index(op.f("ix_batches_run_id"), "batches", ["run_id"], unique=False)
    op.create_index(op.f("ix_batches_status_lease_expires_at"), "batches", ["status", "lease_expires_at"], unique=False)
    op.create_table(
        "recordings",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("source_id", sa.Text(), nullable=False),
        sa.Column("sha256", sa.Text(), nullable=False),
        sa.Column("learner_id", sa.BigInteger(), nullable=False),
        sa.Column("class_id", sa.Text(), nullable=True),
        sa.Column("storage_uri", sa.Text(), nullable=False),
        sa.Column("reference_text", sa.Text(), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_seconds", sa.Float(), nullable=True),
        sa.Column("run_id", sa.BigInteger(), nullable=True),
        sa.Column("batch_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "status",
            sa.Enum("queued", "scoring", "scored", "failed", name="recording_status"),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["batches.id"], name=op.f("fk_recordings_batch_id_batches"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(["learner_id"], ["learners.id"], name=op.f("fk_recordings_learner_id_learners")),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_recordings_run_id_runs"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recordings")),
        sa.UniqueConstraint("source_id", "sha256", name=op.f("uq_recordings_source_id_sha256")),
    )
    op.create_index(op.f("ix_recordings_batch_id"), "recordings", ["batch_id"], unique=False)
    op.create_index(
        op.f("ix_recordings_class_id_submitted_at"), "recordings", ["class_id", "submitted_at"], unique=False
    )
    op.create_index(
        op.f("ix_recordings_learner_id_submitted_at"),
        "recordings",
        ["learner_id", "submitted_at"],
        unique=False,
    )
    op.create_index(op.f("ix_recordings_run_id"), "recordings", ["run_id"], unique=False)
    op.create_table(
        "assessments",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("recording_id", sa.BigInteger(), nullable=False),
        sa.Column("model_version_id", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.Enum("scored", "unparseable", name="assessment_status"), nullable=False),
        sa.Column("accuracy", sa.SmallInteger(), nullable=True),
        sa.Column("fluency", sa.SmallInteger(), nullable=True),
        sa.Column("prosodic", sa.SmallInteger(), nullable=True),
        sa.Column("total", sa.SmallInteger(), nullable=True),
        sa.Column("word_transcript", sa.Text(), nullable=True),
        sa.Column("phoneme_transcript", sa.Text(), nullable=True),
        sa.Column("raw_output", sa.Text(), nullable=True),
        sa.Column("flags", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("generation_ms", sa.Float(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("accuracy BETWEEN 0 AND 10", name=op.f("ck_assessments_accuracy_range")),
        sa.CheckConstraint("fluency BETWEEN 0 AND 10", name=op.f("ck_assessments_fluency_range")),
        sa.CheckConstraint("prosodic BETWEEN 0 AND 10", name=op.f("ck_assessments_prosodic_range")),
        sa.CheckConstraint("total BETWEEN 0 AND 10", name=op.f("ck_assessments_total_range")),
        sa.ForeignKeyConstraint(
            ["model_version_id"],
            ["model_versions.id"],
            name=op.f("fk_assessments_model_version_id_model_versions"),
        ),
        sa.ForeignKeyConstraint(
            ["recording_id"],
            ["recordings.id"],
            name=op.f("fk_assessments_recording_id_recordings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assessments")),
        sa.UniqueConstraint(
            "recording_id", "model_version_id", name=op.f("uq_assessments_recording_id_model_version_id")
        ),
    )
    op.create_index(op.f("ix_assessments_model_version_id"), "assessments", ["model_version_id"], unique=False)
    op.create_table(
        "phone_diffs",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("assessment_id", sa.BigInteger(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("word_index", sa.Integer(), nullable=False),
        sa.Column("word", sa.Text(), nullable=False),
        sa.Column("expected", sa.Text(), nullable=True),
        sa.Column("actual", sa.Text(), nullable=True),
        sa.Column("op", sa.Enum("match", "substitution", "deletion", "insertion", name="diff_op"), nullable=False),
        sa.CheckConstraint(
            "(op = 'insertion') = (expected IS NULL) AND (op = 'deletion') = (actual IS NULL)",
            name=op.f("ck_phone_diffs_phones_match_op"),
        ),
        sa.ForeignKeyConstraint(
            ["assessment_id"],
            ["assessments.id"],
            name=op.f("fk_phone_diffs_assessment_id_assessments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_phone_diffs")),
        sa.UniqueConstraint("assessment_id", "position", name=op.f("uq_phone_diffs_assessment_id_position")),
    )
    for statement in VIEWS.values():
        op.execute(statement)
    create_report_role()


def downgrade() -> None:
    drop_report_role()
    for name in reversed(VIEWS):
        op.execute(f"DROP VIEW {name}")
    op.drop_table("phone_diffs")
    op.drop_index(op.f("ix_assessments_model_version_id"), table_name="assessments")
    op.drop_table("assessments")
    op.drop_index(op.f("ix_recordings_run_id"), table_name="recordings")
    op.drop_index(op.f("ix_recordings_learner_id_submitted_at"), table_name="recordings")
    op.drop_index(op.f("ix_recordings_class_id_submitted_at"), table_name="recordings")
    op.drop_index(op.f("ix_recordings_batch_id"), table_name="recordings")
    op.drop_table("recordings")
    op.drop_index(op.f("ix_batches_status_lease_expires_at"), table_name="batches")
    op.drop_index(op.f("ix_batches_run_id"), table_name="batches")
    op.drop_table("batches")
    op.drop_table("runs")
    op.drop_table("model_versions")
    op.drop_table("learners")
    for enum_name in ("diff_op", "assessment_status", "recording_status", "batch_status"):
        op.execute(f"DROP TYPE {enum_name}")
