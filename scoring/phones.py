"""The CMUdict ARPAbet phone set (39 phones) plus `<unk>` for unclear speech."""

import re
from functools import cache

UNK = "<unk>"

VOWELS = frozenset("AA AE AH AO AW AY EH ER EY IH IY OW OY UH UW".split())
CONSONANTS = frozenset("B CH D DH F G HH JH K L M N NG P R S SH T TH V W Y Z ZH".split())
PHONES = VOWELS | CONSONANTS

_STRESS = re.compile(r"([A-Z]+)[012]$")


class UnknownPhoneError(ValueError):
    """A symbol that is not an ARPAbet phone."""


def strip_stress(phone: str) -> str:
    """`AH0` -> `AH`; other symbols unchanged."""
    match = _STRESS.fullmatch(phone)
    return match.group(1) if match else phone


def normalize_phone(symbol: str, *, keep_stress: bool = False) -> str:
    """Upper-case an ARPAbet symbol, validate it, and drop its stress digit unless asked."""
    if symbol.lower() == UNK:
        return UNK
    upper = symbol.upper()
    base = strip_stress(upper)
    if base not in PHONES:
        raise UnknownPhoneError(f"not an ARPAbet phone: {symbol!r}")
    return upper if keep_stress else base


def split_phones(transcript: str) -> list[str]:
    """Split a space-separated phone transcript into normalised phones, unknown symbols as `<unk>`."""
    phones = []
    for token in transcript.split():
        try:
            phones.append(normalize_phone(token))
        except UnknownPhoneError:
            phones.append(UNK)
    return phones


# (height, backness) of each vowel's nucleus, on a 0-6 by 0-4 grid.
_VOWEL_SPACE = {
    "IY": (6, 0), "IH": (5, 1), "EY": (4, 0), "EH": (3, 0), "AE": (1, 0), "AA": (0, 4),
    "AO": (2, 4), "OW": (4, 4), "UH": (5, 3), "UW": (6, 4), "AH": (3, 2), "ER": (3, 2),
    "AY": (1, 2), "AW": (1, 3), "OY": (2, 3),
}  # fmt: skip
# (place 0-7 from the lips back, manner, voiced) of each consonant.
_CONSONANT_FEATURES = {
    "P": (0, "stop", 0), "B": (0, "stop", 1), "M": (0, "nasal", 1), "W": (0, "glide", 1),
    "F": (1, "fricative", 0), "V": (1, "fricative", 1), "TH": (2, "fricative", 0),
    "DH": (2, "fricative", 1), "T": (3, "stop", 0), "D": (3, "stop", 1), "N": (3, "nasal", 1),
    "S": (3, "fricative", 0), "Z": (3, "fricative", 1), "L": (3, "liquid", 1),
    "R": (3, "liquid", 1), "SH": (4, "fricative", 0), "ZH": (4, "fricative", 1),
    "CH": (4, "affricate", 0), "JH": (4, "affricate", 1), "Y": (5, "glide", 1),
    "K": (6, "stop", 0), "G": (6, "stop", 1), "NG": (6, "nasal", 1), "HH": (7, "fricative", 0),
}  # fmt: skip
MAX_SUBSTITUTION_PENALTY = 12


@cache
def substitution_penalty(a: str, b: str) -> int:
    """How unlike two phones are (0 same, up to 12 vowel for consonant), to break alignment ties.

    An unclear phone (`<unk>`) stands more readily for a vowel than for a consonant, since
    distorted vowels are the commoner learner error.
    """
    if a == b:
        return 0
    if UNK in (a, b):
        other = b if a == UNK else a
        return 1 if other in VOWELS or other == UNK else 2
    if (a in VOWELS) != (b in VOWELS):
        return MAX_SUBSTITUTION_PENALTY
    if a in VOWELS:
        (h1, b1), (h2, b2) = _VOWEL_SPACE[a], _VOWEL_SPACE[b]
        return abs(h1 - h2) + abs(b1 - b2) + (("ER" in (a, b)) and a != b)
    (p1, m1, v1), (p2, m2, v2) = _CONSONANT_FEATURES[a], _CONSONANT_FEATURES[b]
    return abs(p1 - p2) + 2 * (m1 != m2) + (v1 != v2)
