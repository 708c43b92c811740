"""The CMUdict ARPAbet phone set (39 phones) plus `<unk>` for unclear speech."""

import re

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


def same_class(a: str, b: str) -> bool:
    """Whether two phones are both vowels or both consonants; `<unk>` is compatible with any."""
    if UNK in (a, b):
        return True
    return (a in VOWELS) == (b in VOWELS)
