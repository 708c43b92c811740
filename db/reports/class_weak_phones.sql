-- Per class: the most frequent expected -> actual confusions (substitutions, and deletions
-- with an empty actual phone), with how often the expected phone occurred and the error rate.
-- The same aggregation as the view report_class_weak_phones, over an optional date window
-- (--since); the view, frozen in its migration, covers all time.
WITH selected AS (
    SELECT *
    FROM report_phone_confusions_weekly
    WHERE (CAST(:class_id AS text) IS NULL OR class_id = CAST(:class_id AS text))
      AND (CAST(:model AS text) IS NULL OR model = CAST(:model AS text))
      AND (CAST(:since AS date) IS NULL OR week >= date_trunc('week', CAST(:since AS date))::date)
), expected AS (
    SELECT class_id, model, expected, sum(occurrences)::bigint AS expected_count
    FROM selected
    WHERE expected IS NOT NULL
    GROUP BY class_id, model, expected
), errors AS (
    SELECT class_id, model, expected, actual, op, sum(occurrences)::bigint AS occurrences
    FROM selected
    WHERE op IN ('substitution', 'deletion')
    GROUP BY class_id, model, expected, actual, op
), ranked AS (
    SELECT rank() OVER (PARTITION BY e.class_id, e.model ORDER BY e.occurrences DESC) AS rank,
           e.class_id, e.model, e.expected, e.actual, e.op, e.occurrences, x.expected_count,
           round(e.occurrences::numeric / x.expected_count, 4) AS rate
    FROM errors e
    JOIN expected x
        ON x.class_id IS NOT DISTINCT FROM e.class_id AND x.model = e.model AND x.expected = e.expected
)
SELECT rank, class_id, model, expected, actual, op, occurrences, expected_count, rate
FROM ranked
WHERE rank <= CAST(:top AS integer)
ORDER BY class_id, model, rank, expected, actual NULLS FIRST
