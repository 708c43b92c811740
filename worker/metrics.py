"""Prometheus metrics of a worker process."""

from prometheus_client import Counter, Gauge, Histogram, start_http_server

RECORDINGS_SCORED = Counter("pronscore_recordings_scored_total", "Recordings scored")
RECORDINGS_FAILED = Counter("pronscore_recordings_failed_total", "Recordings failed, by reason", ["reason"])
BATCH_SECONDS = Histogram(
    "pronscore_batch_seconds", "Wall time of a batch", buckets=(1, 2, 5, 10, 20, 30, 60, 120, 300, 600)
)
AUDIO_SECONDS = Counter("pronscore_audio_seconds_total", "Audio seconds scored; its rate is audio s per s")
AUDIO_RATE = Gauge("pronscore_audio_seconds_per_second", "Audio seconds per wall second in the last batch")
QUEUE_DEPTH = Gauge("pronscore_queue_depth_batches", "Batches queued or running, after the last batch")


def serve(port: int) -> bool:
    """Start the metrics endpoint; False when the port is taken (another worker on this host)."""
    if port <= 0:
        return False
    try:
        start_http_server(port)
    except OSError:
        return False
    return True
