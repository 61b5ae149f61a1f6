"""Base class of every message payload and the common field types.

A contract refuses whatever a later step could not handle, and its published JSON Schema says exactly the
same thing (tests/unit/test_schema_agreement.py validates one corpus with both):

* Codes are ASCII digits: patterns use ``[0-9]``, never ``\\d`` (in pydantic's Rust regex, in Python and
  in ECMA-262 with the ``u`` flag, ``\\d`` matches any Unicode digit, such as Arabic-Indic ``٠١٢``).
* Every integer is bounded: amounts by ``MAX_VND``, sums of amounts by ``MAX_TOTAL``, revisions by
  ``MAX_REVISION``. All bounds are far inside PostgreSQL ``bigint`` and are exact in every JSON parser.
  As in JSON Schema, a number with a zero fraction is an integer (``1500000.0`` is ``1500000``).
* Months, dates and timestamps lie in 1995-2100 (``YEARS``): Vietnam Social Security was founded in 1995
  (Decree 19/1995/ND-CP), so no contribution, benefit or payment predates it. Services still refuse, with
  a reason, a month their own law tables do not cover.
* Every string is bounded and carries no control characters (NUL cannot be stored in PostgreSQL text;
  line breaks and the like have no place in a code or a name). Only XML documents keep tab, CR and LF.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, Callable, ClassVar
from uuid import UUID

from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints
from pydantic_core import PydanticCustomError, core_schema

# Strict: "12a" or "12" never becomes 12; unknown fields are ignored so that adding an optional
# field later does not break consumers that have not upgraded.
STRICT = ConfigDict(strict=True, extra="ignore", frozen=True, str_strip_whitespace=False)

# 10^15 dong (about 40 billion USD) is more than the whole fund collects in a year: no single amount,
# salary or benefit comes near it, and it is exact as a JSON number everywhere (below 2^53).
MAX_VND = 10**15
# Sums of many amounts (an employer's credit, a payment batch's control sum): the largest integer every
# JSON implementation reads exactly (2^53 - 1, RFC 7493), still a thousandth of bigint's range.
MAX_TOTAL = 2**53 - 1
# A declaration corrected ten thousand times is a broken payroll system, not a correction.
MAX_REVISION = 9999
YEARS = (1995, 2100)

# ---- patterns (ASCII only; written once, used by the models and published in the JSON Schemas) ----
_PERIOD_YEAR = r"(?:199[5-9]|20[0-9]{2})"  # a month runs to 2099-12; its due date may fall in 2100
_DATE_YEAR = r"(?:199[5-9]|20[0-9]{2}|2100)"
_LEAP_YEAR = r"(?:1996|20(?:[02468][048]|[13579][26]))"  # 2000 is a leap year, 2100 is not
_MONTH_DAY = (r"(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])"
              r"|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)"
              r"|02-(?:0[1-9]|1[0-9]|2[0-8]))")
PERIOD = rf"{_PERIOD_YEAR}-(?:0[1-9]|1[0-2])"
DATE = rf"(?:{_DATE_YEAR}-{_MONTH_DAY}|{_LEAP_YEAR}-02-29)"  # a real calendar day, so no format checker is needed
_HOUR_MINUTE = r"(?:[01][0-9]|2[0-3]):[0-5][0-9]"
TIMESTAMP = rf"{DATE}T{_HOUR_MINUTE}:[0-5][0-9](?:\.[0-9]{{1,9}})?(?:Z|[+-]{_HOUR_MINUTE})"  # RFC 3339
UUID_TEXT = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"

# Unicode "Cc": C0 controls (NUL included), DEL and C1 controls. Documents keep tab, LF and CR.
CONTROL = r"[\x00-\x1f\x7f-\x9f]"
DOCUMENT_CONTROL = r"[\x00-\x08\x0b\x0c\x0e-\x1f]"


def _anchored(body: str) -> str:
    return f"^{body}$"


@dataclass(frozen=True)
class NoControlCharacters:
    """Refuses control characters, and says so in the JSON Schema as ``not: {pattern: ...}``.

    The JSON Schema needs the ``not`` even where the pattern allows only printable ASCII: Python's ``re``
    (which the ``jsonschema`` package uses) lets ``$`` match before a final line break, so ``^[0-9]{10}$``
    alone would accept ``"0123456789\\n"`` there while pydantic and ECMA-262 refuse it. ``enforce=False``
    marks a pattern that already refuses every control character in pydantic, saving a Python call.
    """

    forbidden: str = CONTROL
    enforce: bool = True

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> core_schema.CoreSchema:
        schema = handler(source)
        if not self.enforce:
            return schema
        return core_schema.no_info_after_validator_function(self._check, schema)

    def _check(self, value: str) -> str:
        if _compiled(self.forbidden).search(value):
            raise PydanticCustomError("control_characters",
                                      "must not contain control characters (NUL, line breaks, ...)")
        return value

    def __get_pydantic_json_schema__(self, schema: Any, handler: Any) -> dict:
        out = handler(schema)
        out["not"] = {"pattern": self.forbidden}
        return out


@dataclass(frozen=True)
class WireText:
    """A date, timestamp or UUID must arrive in exactly this textual form (published as ``pattern``).

    pydantic would also read forms the JSON Schema does not describe (``2025-07-01 08:00Z``, UUIDs without
    hyphens, ``urn:uuid:...``); refusing them keeps the two in agreement. A matching text is parsed here
    (after a validator function, strict pydantic no longer parses text); values built in Python (``date``,
    ``UUID`` objects) pass through.
    """

    body: str
    what: str
    parse: Callable[[str], Any]

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> core_schema.CoreSchema:
        return core_schema.no_info_before_validator_function(self._check, handler(source))

    def _check(self, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        if not _compiled(self.body).fullmatch(value):
            raise PydanticCustomError("wire_format", "must be {what}", {"what": self.what})
        return self.parse(value)

    def __get_pydantic_json_schema__(self, schema: Any, handler: Any) -> dict:
        out = handler(schema)
        out["pattern"] = _anchored(self.body)
        out["not"] = {"pattern": CONTROL}  # for Python's "$" (see NoControlCharacters); the pattern implies it
        return out


_COMPILED: dict[str, re.Pattern] = {}


def _compiled(regex: str) -> re.Pattern:
    if regex not in _COMPILED:
        _COMPILED[regex] = re.compile(regex)
    return _COMPILED[regex]


def _in_years(value: date) -> date:
    """Dates and timestamps built in Python skip the pattern; the same years apply to them."""
    if not YEARS[0] <= value.year <= YEARS[1]:
        raise PydanticCustomError("year_range", "year must be within {first}-{last}",
                                  {"first": YEARS[0], "last": YEARS[1]})
    return value


def _integral(value: Any) -> Any:
    """JSON Schema's ``integer`` is any number with a zero fraction; so is ours (1.5 stays refused)."""
    if value.__class__ is float and value.is_integer():
        return int(value)
    return value


def bounded_int(ge: int, le: int, description: str | None = None) -> Any:
    """An integer field within ``[ge, le]``."""
    return Annotated[int, Field(ge=ge, le=le, description=description), BeforeValidator(_integral)]


def text(max_length: int, *, min_length: int = 1, pattern: str | None = None, description: str | None = None,
         forbidden: str = CONTROL, enforce: bool = True) -> Any:
    """A bounded string without control characters; ``pattern`` is a body, anchored here."""
    return Annotated[str, StringConstraints(min_length=min_length, max_length=max_length,
                                            pattern=_anchored(pattern) if pattern else None),
                     NoControlCharacters(forbidden, enforce), Field(description=description)]


def ascii_code(pattern: str, max_length: int, description: str | None = None) -> Any:
    """A code whose pattern allows printable ASCII only (so pydantic needs no extra check)."""
    return text(max_length, pattern=pattern, description=description, enforce=False)


class Message(BaseModel):
    """A payload: ``event_type`` and ``schema_version`` identify it on the wire."""

    model_config = STRICT
    event_type: ClassVar[str]
    schema_version: ClassVar[int] = 1


class Part(BaseModel):
    """A nested structure inside a payload."""

    model_config = STRICT


# Constraints come before the validator: pydantic then publishes them as minimum/maximum.
Vnd = Annotated[bounded_int(0, MAX_VND), Field(
    description="Amount in Vietnamese dong (integer; the dong has no minor unit)")]
PositiveVnd = Annotated[bounded_int(1, MAX_VND), Field(description="Amount, VND")]
SignedVnd = Annotated[bounded_int(-MAX_VND, MAX_VND), Field(
    description="Signed amount in dong (adjustments can be negative)")]
TotalVnd = Annotated[bounded_int(0, MAX_TOTAL), Field(description="A sum of amounts, VND")]
Revision = Annotated[bounded_int(0, MAX_REVISION), Field(description="0 for the first declaration, then 1, 2, ...")]
Period = Annotated[str, StringConstraints(pattern=_anchored(PERIOD)), NoControlCharacters(enforce=False),
                   Field(description="Contribution or benefit month, YYYY-MM, 1995-01 to 2099-12",
                         examples=["2025-07"])]
Date = Annotated[date, WireText(DATE, "a date YYYY-MM-DD from 1995-01-01 to 2100-12-31", date.fromisoformat),
                 AfterValidator(_in_years)]
Timestamp = Annotated[AwareDatetime, WireText(TIMESTAMP, "an RFC 3339 timestamp with a timezone, years 1995-2100",
                                              datetime.fromisoformat), AfterValidator(_in_years)]
WireUUID = Annotated[UUID, WireText(UUID_TEXT, "a UUID written 8-4-4-4-12 hex digits", UUID)]
InsuranceCode = ascii_code("[0-9]{10}", 10, "10-digit social insurance code")
CitizenId = ascii_code("[0-9]{12}", 12, "12-digit citizen identity number (CCCD)")
EmployerCode = ascii_code("[A-Z0-9]{2,15}", 15, "Employer unit code assigned by the agency")
TaxCode = ascii_code("[0-9]{10}(?:[0-9]{3})?", 13, "Employer tax code, 10 or 13 digits")
BankBin = ascii_code("[0-9]{6}", 6, "6-digit NAPAS bank BIN")
AccountNumber = ascii_code("[0-9]{1,19}", 19, "Bank account number, up to 19 digits")
Name = text(200)
Identifier = ascii_code("[A-Za-z0-9._:/-]{1,64}", 64)
EndToEndId = ascii_code("[A-Za-z0-9-]{1,35}", 35, "ISO 20022 EndToEndId (max 35 characters)")
