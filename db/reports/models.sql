-- Every model version and rater, in the order reports prefer them by default: machine models
-- before human raters, the newest first. `meaningless` marks the tiny test checkpoint.
SELECT model, engine, is_human, meaningless, base_model, task_format, assessments, created_at, preference
FROM report_model_versions
WHERE (CAST(:model AS text) IS NULL OR model = CAST(:model AS text))
ORDER BY preference
