-- Per recording's newest version: its learner, class, run, text, status and failure reason,
-- its length, and where its audio is in the store (empty for a recording known only from
-- imported ratings, whose audio was never uploaded).
SELECT recording_id, learner_id, class_id, run, submitted_at, week, text, status, reason, detail,
       duration_seconds, audio_uri, audio_sha256
FROM report_recordings
WHERE (CAST(:class_id AS text) IS NULL OR class_id = CAST(:class_id AS text))
  AND (CAST(:learner_id AS text) IS NULL OR learner_id = CAST(:learner_id AS text))
  AND (CAST(:recording_id AS text) IS NULL OR recording_id = CAST(:recording_id AS text))
  AND (CAST(:run AS text) IS NULL OR run = CAST(:run AS text))
  AND (CAST(:since AS date) IS NULL OR week >= date_trunc('week', CAST(:since AS date))::date)
ORDER BY class_id, learner_id, submitted_at DESC, recording_id
