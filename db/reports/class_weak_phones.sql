-- Per class: the most frequent expected -> actual confusions (substitutions, and deletions
-- with an empty actual phone), with how often the expected phone occurred and the error rate.
-- The view report_class_weak_phones is this function over all time.
SELECT rank, class_id, model, expected, actual, op, occurrences, expected_count, rate
FROM report_class_weak_phones_since(CAST(:since AS date))
WHERE (CAST(:class_id AS text) IS NULL OR class_id = CAST(:class_id AS text))
  AND (CAST(:model AS text) IS NULL OR model = CAST(:model AS text))
  AND rank <= CAST(:top AS integer)
ORDER BY class_id, model, rank, expected, actual NULLS FIRST
