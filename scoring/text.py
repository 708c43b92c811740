"""Normalisation of reference sentences and word transcripts."""

import re

_NOT_WORD = re.compile(r"[^A-Z0-9' ]+")


def normalize_text(text: str) -> str:
    """Upper case, punctuation removed except apostrophes, single spaces.

    Hyphens and slashes separate words (`WELL-KNOWN` -> `WELL KNOWN`); curly apostrophes
    become straight ones.
    """
    upper = text.upper().replace("\u2019", "'").replace("-", " ").replace("/", " ")
    cleaned = _NOT_WORD.sub("", upper)
    words = [word.strip("'") for word in cleaned.split()]
    return " ".join(word for word in words if word)
