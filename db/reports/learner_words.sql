-- Per learner: the words read with the lowest mean accuracy (engines that score each word,
-- such as gop), with how often each was read and how often it was mispronounced, omitted or
-- followed by an insertion.
WITH selected AS (
    SELECT *
    FROM report_word_scores
    WHERE (CAST(:class_id AS text) IS NULL OR class_id = CAST(:class_id AS text))
      AND (CAST(:learner_id AS text) IS NULL OR learner_id = CAST(:learner_id AS text))
      AND (CAST(:model AS text) IS NULL OR model = CAST(:model AS text))
      AND (CAST(:since AS date) IS NULL OR week >= date_trunc('week', CAST(:since AS date))::date)
), per_word AS (
    SELECT learner_id, class_id, model, word, count(*) AS readings,
           round(avg(accuracy)::numeric, 1) AS accuracy,
           count(*) FILTER (WHERE error_type = 'Mispronunciation') AS mispronounced,
           count(*) FILTER (WHERE error_type = 'Omission') AS omitted,
           count(*) FILTER (WHERE error_type = 'Insertion') AS insertions,
           max(week) AS last_week
    FROM selected
    GROUP BY learner_id, class_id, model, word
), ranked AS (
    SELECT *, rank() OVER (PARTITION BY learner_id, model ORDER BY accuracy ASC NULLS LAST, word) AS rank
    FROM per_word
)
SELECT learner_id, class_id, model, rank, word, readings, accuracy, mispronounced, omitted, insertions, last_week
FROM ranked
WHERE rank <= CAST(:top AS integer)
ORDER BY class_id, learner_id, model, rank
