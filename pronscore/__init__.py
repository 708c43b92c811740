"""pronscore: batch pronunciation assessment for English learners.

This package is the application shell: settings, the S3 audio store and the command line.
The domain lives in `scoring`, persistence in `db`, the two sides of the queue in
`producer` and `worker`, and fine-tuning in `training`.
"""

__version__ = "0.1.0"
