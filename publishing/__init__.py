"""The teacher's site: a static folder of pages per class and learner, built from the report
views as the read-only role, with the recordings' audio embedded, and published to a folder or
an S3 prefix."""
