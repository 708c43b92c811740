-- Recordings' assessments, word by word (newest version of each recording): per recording,
-- machine models first, the newest first, then human raters; each assessment's words in
-- reading order with, where the engine scores words (gop), the word's accuracy and error type.
SELECT f.recording_id, f.learner_id, f.class_id, f.submitted_at, f.text, f.model, f.is_human, f.meaningless,
       f.assessment_status, f.accuracy, f.fluency, f.prosodic, f.total, f.word_transcript, f.phoneme_transcript,
       f.assessed_at, f.word_index, f.word, f.expected, f.heard, f.errors, f.marked_errors, f.ops,
       round(w.accuracy::numeric, 1) AS word_accuracy, w.error_type
FROM report_recording_feedback f
LEFT JOIN report_word_scores w
    ON w.recording_id = f.recording_id AND w.model = f.model AND w.word_index = f.word_index
WHERE (CAST(:recording_id AS text) IS NULL OR f.recording_id = CAST(:recording_id AS text))
  AND (CAST(:class_id AS text) IS NULL OR f.class_id = CAST(:class_id AS text))
  AND (CAST(:learner_id AS text) IS NULL OR f.learner_id = CAST(:learner_id AS text))
  AND (CAST(:model AS text) IS NULL OR f.model = CAST(:model AS text))
  AND (CAST(:since AS date) IS NULL OR date_trunc('week', f.submitted_at AT TIME ZONE 'UTC')::date
                                         >= date_trunc('week', CAST(:since AS date))::date)
ORDER BY f.class_id, f.learner_id, f.submitted_at DESC, f.recording_id,
         f.is_human, f.assessed_at DESC, f.model, f.word_index NULLS FIRST
