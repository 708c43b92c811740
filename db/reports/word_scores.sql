-- Each scored word of a recording's newest version (engines that score each word, such as gop):
-- its accuracy (0-10) and error type, in reading order.
SELECT recording_id, learner_id, class_id, model, submitted_at, week, word_index, word,
       round(accuracy::numeric, 1) AS accuracy, error_type
FROM report_word_scores
WHERE (CAST(:recording_id AS text) IS NULL OR recording_id = CAST(:recording_id AS text))
  AND (CAST(:class_id AS text) IS NULL OR class_id = CAST(:class_id AS text))
  AND (CAST(:learner_id AS text) IS NULL OR learner_id = CAST(:learner_id AS text))
  AND (CAST(:model AS text) IS NULL OR model = CAST(:model AS text))
  AND (CAST(:since AS date) IS NULL OR week >= date_trunc('week', CAST(:since AS date))::date)
ORDER BY class_id, learner_id, submitted_at DESC, recording_id, word_index
