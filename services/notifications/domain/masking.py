"""Personal identifiers in messages: only the last digits are shown (citizen id, bank account)."""
from __future__ import annotations

MASK = "****"


def mask_digits(value: str | None, keep: int = 4) -> str | None:
    """``"012345678901"`` -> ``"****8901"``. The mask has a fixed width, so it does not tell the length
    either; a value of ``keep`` digits or fewer is masked whole (showing it would show all of it)."""
    if value is None:
        return None
    if len(value) <= keep:
        return MASK
    return MASK + value[-keep:]


def last_digits(value: str | None, keep: int = 4) -> str | None:
    """What may be stored of an identifier to mask it later: its last ``keep`` digits (None if too short)."""
    if value is None or len(value) <= keep:
        return None
    return value[-keep:]
