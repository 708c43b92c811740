"""The classes the phone classifier tells apart: the 39 ARPAbet phones and silence."""

from scoring.phones import PHONES

SILENCE = "SIL"
PHONE_CLASSES: tuple[str, ...] = (*sorted(PHONES), SILENCE)
