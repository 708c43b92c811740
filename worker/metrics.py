"""Prometheus metrics of a worker, summed over its processes.

Every process of a worker counts into files of one folder (prometheus_client's multiprocess
mode: `PROMETHEUS_MULTIPROC_DIR`, which `pronscore worker` sets before any metric exists), and
the worker's main process serves their sum on `PRONSCORE_METRICS_PORT`.
"""

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, multiprocess, start_http_server

RECORDINGS_SCORED = Counter("pronscore_recordings_scored_total", "Recordings scored")
RECORDINGS_FAILED = Counter("pronscore_recordings_failed_total", "Recordings failed, by reason", ["reason"])
BATCH_SECONDS = Histogram(
    "pronscore_batch_seconds", "Wall time of a batch", buckets=(1, 2, 5, 10, 20, 30, 60, 120, 300, 600)
)
AUDIO_SECONDS = Counter("pronscore_audio_seconds_total", "Audio seconds scored; its rate is audio s per s")
AUDIO_RATE = Gauge(
    "pronscore_audio_seconds_per_second",
    "Audio seconds per wall second in the last batch",
    multiprocess_mode="mostrecent",
)
QUEUE_DEPTH = Gauge(
    "pronscore_queue_depth_batches", "Batches queued or running, after the last batch", multiprocess_mode="mostrecent"
)


def serve(port: int) -> bool:
    """Serve the metrics of all this worker's processes; False when the port is 0 or taken
    (another worker on this host)."""
    if port <= 0:
        return False
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    try:
        start_http_server(port, registry=registry)
    except OSError:
        return False
    return True
