-- Recordings' assessments, word by word (newest version of each recording): per recording,
-- machine models first, the newest first, then human raters; each assessment's words in
-- reading order.
SELECT recording_id, learner_id, class_id, submitted_at, text, model, is_human, meaningless,
       assessment_status, accuracy, fluency, prosodic, total, word_transcript, phoneme_transcript,
       assessed_at, word_index, word, expected, heard, errors, marked_errors, ops
FROM report_recording_feedback
WHERE (CAST(:recording_id AS text) IS NULL OR recording_id = CAST(:recording_id AS text))
  AND (CAST(:class_id AS text) IS NULL OR class_id = CAST(:class_id AS text))
  AND (CAST(:learner_id AS text) IS NULL OR learner_id = CAST(:learner_id AS text))
  AND (CAST(:model AS text) IS NULL OR model = CAST(:model AS text))
  AND (CAST(:since AS date) IS NULL OR date_trunc('week', submitted_at AT TIME ZONE 'UTC')::date
                                         >= date_trunc('week', CAST(:since AS date))::date)
ORDER BY class_id, learner_id, submitted_at DESC, recording_id,
         is_human, assessed_at DESC, model, word_index NULLS FIRST
