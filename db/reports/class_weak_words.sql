-- Per class: the words read wrong most often (engines that score each word, such as gop): how
-- many learners read each, how often, how often it was mispronounced or omitted, and its mean
-- accuracy. Words never read wrong are left out.
WITH selected AS (
    SELECT *
    FROM report_word_scores
    WHERE (CAST(:class_id AS text) IS NULL OR class_id = CAST(:class_id AS text))
      AND (CAST(:model AS text) IS NULL OR model = CAST(:model AS text))
      AND (CAST(:since AS date) IS NULL OR week >= date_trunc('week', CAST(:since AS date))::date)
), per_word AS (
    SELECT class_id, model, word, count(DISTINCT learner_id) AS learners, count(*) AS readings,
           count(*) FILTER (WHERE error_type IN ('Mispronunciation', 'Omission')) AS mistakes,
           round(avg(accuracy)::numeric, 1) AS accuracy,
           count(*) FILTER (WHERE error_type = 'Mispronunciation') AS mispronounced,
           count(*) FILTER (WHERE error_type = 'Omission') AS omitted
    FROM selected
    GROUP BY class_id, model, word
), ranked AS (
    SELECT *,
           rank() OVER (PARTITION BY class_id, model ORDER BY mistakes DESC, accuracy ASC NULLS LAST, word) AS rank
    FROM per_word
    WHERE mistakes > 0
)
SELECT class_id, model, rank, word, learners, readings, mistakes, accuracy, mispronounced, omitted
FROM ranked
WHERE rank <= CAST(:top AS integer)
ORDER BY class_id, model, rank
