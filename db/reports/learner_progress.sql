-- Per learner and ISO week: recordings, mean scores, change since the learner's first week.
-- Weeks without recordings between a learner's first and last week appear with 0 recordings.
SELECT learner_id, class_id, model, iso_week, week, recordings,
       accuracy, fluency, prosodic, total,
       accuracy_change, fluency_change, prosodic_change, total_change
FROM report_learner_progress
WHERE (CAST(:class_id AS text) IS NULL OR class_id = CAST(:class_id AS text))
  AND (CAST(:learner_id AS text) IS NULL OR learner_id = CAST(:learner_id AS text))
  AND (CAST(:model AS text) IS NULL OR model = CAST(:model AS text))
  AND (CAST(:since AS date) IS NULL OR week >= date_trunc('week', CAST(:since AS date))::date)
ORDER BY class_id, learner_id, model, week
