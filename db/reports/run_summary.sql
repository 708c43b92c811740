-- Per run: recordings by status, failures by reason, audio hours and scoring rate.
SELECT run, model, created_at, finished_at, recordings, queued, scoring, scored, failed,
       failures, audio_hours, recordings_per_second
FROM report_run_summary
WHERE (CAST(:model AS text) IS NULL OR model = CAST(:model AS text))
  AND (CAST(:since AS date) IS NULL OR created_at >= CAST(:since AS date))
ORDER BY created_at, run
