# The pronscore image for workers and one-shot commands. CUDA comes from the torch wheel.
FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends libsndfile1 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY pronscore pronscore
COPY cli cli
COPY engines engines
COPY scoring scoring
COPY db db
COPY migrations migrations
COPY producer producer
COPY worker worker
COPY training training
RUN pip install --no-cache-dir torch==2.13.0 && pip install --no-cache-dir .
ENTRYPOINT ["pronscore"]
