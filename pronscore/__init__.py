"""pronscore: batch pronunciation assessment for English learners.

This package is the foundation every other package stands on: settings, the S3 audio store,
the Celery queue's configuration, structured logs and charts. It imports nothing of the
packages above it; the command line lives in `cli`.
"""

__version__ = "0.1.0"
