-- One recording's assessments, word by word: machine models first, the newest first, then
-- human raters; each assessment's words in reading order. The recording's own fields are read
-- from its row (db/reports/feedback.py).
SELECT model, is_human, meaningless, assessment_status, accuracy, fluency, prosodic, total,
       word_transcript, phoneme_transcript, assessed_at, word_index, word, expected, heard, errors,
       marked_errors, ops
FROM report_recording_feedback
WHERE recording_id = CAST(:recording_id AS text)
  AND (CAST(:model AS text) IS NULL OR model = CAST(:model AS text))
ORDER BY is_human, assessed_at DESC, model, word_index NULLS FIRST
