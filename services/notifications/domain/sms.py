"""SMS length: GSM 03.38 7-bit alphabet vs UCS-2, segments of a concatenated message, unaccented text.

A message in the GSM-7 default alphabet fits 160 septets in one SMS, 153 per part when concatenated (the
user data header takes 7); a character of the extension table (``^{}\\[~]|€`` and form feed) costs two
septets (escape + character) and an escape pair is never split between parts. Anything outside both
tables makes the whole message UCS-2: 70 UTF-16 code units in one SMS, 67 per part; a surrogate pair
(an emoji) is never split. Vietnamese with its diacritics is UCS-2 (ạ, ơ, ư, đ... are not GSM-7).
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")
SINGLE = {"gsm7": 160, "ucs2": 70}
PART = {"gsm7": 153, "ucs2": 67}
# Letters the Unicode decomposition leaves alone: đ/Đ is a letter of its own, not d + a mark.
_OWN_LETTERS = str.maketrans({"đ": "d", "Đ": "D"})


@dataclass(frozen=True)
class Segments:
    encoding: str  # "gsm7" or "ucs2"
    units: int     # septets (GSM-7) or UTF-16 code units (UCS-2)
    count: int     # SMS parts the message takes


def encoding_of(text: str) -> str:
    return "gsm7" if all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text) else "ucs2"


def _unit_cost(ch: str, encoding: str) -> int:
    if encoding == "gsm7":
        return 2 if ch in GSM7_EXTENSION else 1
    return 2 if ord(ch) > 0xFFFF else 1


def segments(text: str) -> Segments:
    """How many SMS parts ``text`` takes (0 for an empty text)."""
    encoding = encoding_of(text)
    costs = [_unit_cost(ch, encoding) for ch in text]
    units = sum(costs)
    if units <= SINGLE[encoding]:
        return Segments(encoding, units, 1 if units else 0)
    count, room = 1, PART[encoding]
    for cost in costs:  # greedy: an escape pair or a surrogate pair moves whole to the next part
        if cost > room:
            count, room = count + 1, PART[encoding]
        room -= cost
    return Segments(encoding, units, count)


def fits(text: str, max_segments: int = 2) -> bool:
    return segments(text).count <= max_segments


def strip_diacritics(text: str) -> str:
    """Vietnamese without accents, the way SMS senders write it: "Đã chuyển" -> "Da chuyen".

    Decomposes (NFD), drops the combining marks, recomposes; đ/Đ become d/D. Other scripts are left as they are.
    """
    decomposed = unicodedata.normalize("NFD", text.translate(_OWN_LETTERS))
    kept = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return unicodedata.normalize("NFC", kept)


def truncate_to_fit(text: str, max_segments: int = 2, ellipsis: str = "...") -> str:
    """The longest prefix of ``text`` (cut at a space where possible) that, with ``ellipsis``, fits."""
    if fits(text, max_segments):
        return text
    low, high = 0, len(text)
    while low < high:  # the longest prefix that fits (fitting is monotonic in the prefix length)
        middle = (low + high + 1) // 2
        if fits(text[:middle].rstrip() + ellipsis, max_segments):
            low = middle
        else:
            high = middle - 1
    cut = text[:low]
    if " " in cut and not text[low:low + 1].isspace():
        cut = cut[:cut.rfind(" ")]
    return cut.rstrip() + ellipsis
