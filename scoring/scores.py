"""The four sentence-level scores every assessment carries, each an integer from 0 to 10."""

SCORE_ASPECTS = ("accuracy", "fluency", "prosodic", "total")
SCORE_RANGE = (0, 10)
