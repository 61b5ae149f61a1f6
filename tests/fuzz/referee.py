"""Two independent verdicts on a message's bytes: the published contract, and the service's own models.

``referee`` decides what the service MUST do with a message, without using the service's code:

* the published JSON Schema (``schemas/json``) read with ECMA-262 regex semantics, as JSON Schema means
  them (``\\d`` is ``[0-9]``, ``$`` is the end of the text), with strict formats (RFC 3339 date and
  date-time with offset, RFC 4122 uuid);
* the domain rules the issue states, which the schema may not express: every integer fits PostgreSQL
  ``bigint`` (a declaration's revision fits the ``integer`` column), no NUL character and no lone
  surrogate in any string (PostgreSQL cannot store them), business dates and periods within 1900-2100,
  and for declarations the law's own limits (``services/collection/law.json``: periods the law tables
  cover, at most ``max_periods_ahead`` months after the business date, salary within the plausibility
  limit).

``model_verdict`` asks the runtime's ``Decoder`` (the pydantic models). Where the two disagree on the
contract, that is a finding; the broker test expects the referee's verdict.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema
from jsonschema import Draft202012Validator, validators

from ansinh.runtime.decoding import Decoder
from ansinh.runtime.dlq import RawMessage
from ansinh.runtime.errors import DecodeError
from schemas.topics import spec

REPO = Path(__file__).resolve().parents[2]
SCHEMAS = REPO / "schemas" / "json"
LAW = REPO / "services" / "collection" / "law.json"
BIGINT = 2**63
INT32 = 2**31
YEARS = (1900, 2100)

_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}\Z", re.ASCII)
_DATETIME = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?"
                       r"([Zz]|[+-][0-9]{2}:[0-9]{2})\Z", re.ASCII)
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z", re.ASCII)
_PERIOD = re.compile(r"^([0-9]{4})-([0-9]{2})\Z", re.ASCII)


class Unparseable(Exception):
    """The bytes are not JSON as RFC 8259 defines it."""


# ---- strict JSON ---------------------------------------------------------------------------------------
def _no_constant(name: str):
    raise Unparseable(f"{name} is not JSON")


def parse_json(value: bytes) -> Any:
    """RFC 8259 JSON from strict UTF-8 (no NaN/Infinity, no lone surrogates in the bytes)."""
    try:
        text = value.decode("utf-8")
        return json.loads(text, parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise Unparseable(type(exc).__name__) from exc


# ---- the published schema, with ECMA-262 regex and strict formats --------------------------------------
@lru_cache(maxsize=None)
def _ecma(pattern: str) -> re.Pattern:
    # ECMA-262 without the u flag: \d \w \s are ASCII classes, and $ matches only at the end.
    return re.compile(re.sub(r"(?<!\\)\$", r"\\Z", pattern), re.ASCII)


def _pattern(validator, pattern, instance, schema):
    if isinstance(instance, str) and not _ecma(pattern).search(instance):
        yield jsonschema.ValidationError(f"{instance!r:.40} does not match {pattern!r}")


def _real_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
        return True
    except ValueError:
        return False


FORMATS = jsonschema.FormatChecker(formats=())


@FORMATS.checks("date")
def _is_date(value) -> bool:
    return not isinstance(value, str) or (bool(_DATE.match(value)) and _real_date(value))


@FORMATS.checks("date-time")
def _is_datetime(value) -> bool:
    if not isinstance(value, str):
        return True
    m = _DATETIME.match(value)
    if not m or not _real_date(value[:10]):
        return False
    hh, mi, ss = int(value[11:13]), int(value[14:16]), int(value[17:19])
    offset = m.group(2)
    if offset not in ("Z", "z") and (int(offset[1:3]) > 23 or int(offset[4:6]) > 59):
        return False
    return hh < 24 and mi < 60 and ss < 61


@FORMATS.checks("uuid")
def _is_uuid(value) -> bool:
    return not isinstance(value, str) or bool(_UUID.match(value))


def _is_integer(instance) -> bool:
    """JSON Schema's integer: any number with a zero fraction (``1.0`` is the integer 1)."""
    if isinstance(instance, bool):
        return False
    return isinstance(instance, int) or (isinstance(instance, float) and instance.is_integer())


Strict = validators.extend(Draft202012Validator, {"pattern": _pattern})


@lru_cache(maxsize=None)
def _validator(event_type: str, version: int):
    path = SCHEMAS / f"{event_type}.v{version}.json"
    return Strict(json.loads(path.read_text()), format_checker=FORMATS) if path.exists() else None


# ---- domain rules the schema does not (or cannot) say -------------------------------------------------
@dataclass(frozen=True)
class LawLimits:
    first_period: str  # the first month every law table covers
    max_periods_ahead: int
    max_monthly_salary: int


@lru_cache(maxsize=1)
def law_limits() -> LawLimits:
    law = json.loads(LAW.read_text())
    firsts = [min(row.get("effective_from") or row["effective_from_period"] + "-01" for row in law[table])
              for table in ("rates", "base_salary", "regional_minimum_wage", "caps", "due_date_rules")]
    plaus = law["plausibility"]
    return LawLimits(max(firsts)[:7], plaus["max_periods_ahead"], plaus["max_monthly_salary"])


def _months(period: str) -> int:
    y, m = period.split("-")
    return int(y) * 12 + int(m) - 1


def _domain_problems(value: Any, where: str = "") -> list[str]:
    """Integers beyond bigint, NUL and lone surrogates, anywhere (PostgreSQL can hold none of them)."""
    if isinstance(value, bool):
        return []
    if isinstance(value, int):
        return [f"{where}: integer outside bigint"] if not -BIGINT <= value < BIGINT else []
    if isinstance(value, str):
        if "\x00" in value:
            return [f"{where}: NUL character"]
        if any(0xD800 <= ord(c) <= 0xDFFF for c in value):
            return [f"{where}: lone surrogate"]
        return []
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _domain_problems(k, f"{where}.<key>")
                + _domain_problems(v, f"{where}.{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _domain_problems(v, f"{where}[{i}]")]
    return []


def _dates_plausible(value: Any, where: str = "payload") -> list[str]:
    """Periods and dates anywhere in the payload within 1900-2100 (years 0 and 9999 are no business date)."""
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _dates_plausible(v, f"{where}.{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _dates_plausible(v, f"{where}[{i}]")]
    if isinstance(value, str) and (_PERIOD.match(value) or _DATE.match(value) or _DATETIME.match(value)):
        year = int(value[:4])
        if not YEARS[0] <= year <= YEARS[1]:
            return [f"{where}: year {year} outside {YEARS}"]
    return []


def _declaration_rules(payload: dict, business_date: date) -> list[str]:
    law, problems = law_limits(), []
    period = payload["period"]
    latest = business_date.year * 12 + business_date.month - 1 + law.max_periods_ahead
    if _months(period) < _months(law.first_period):
        problems.append("period before the law tables")
    if _months(period) > latest:
        problems.append("period too far ahead")
    if payload["contribution_salary"] > law.max_monthly_salary:
        problems.append("salary above the plausibility limit")
    if payload["revision"] >= INT32:
        problems.append("revision beyond the database column")
    return problems


# ---- verdicts -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Verdict:
    good: bool
    why: str  # for a bad one: the first reason (class of problem, never a value)
    contract_good: bool | None = None  # the schema alone (None: it never got that far)


def referee(topic: str, value: bytes | None, business_date: date) -> Verdict:
    if value is None:
        return Verdict(False, "tombstone")
    try:
        doc = parse_json(value)
    except Unparseable as exc:
        return Verdict(False, f"not JSON ({exc})")
    if not isinstance(doc, dict):
        return Verdict(False, "not an object")
    kinds = {(m.event_type, m.schema_version) for m in spec(topic).messages}
    head = (doc.get("type"), doc.get("schema_version"))
    if not (isinstance(head[0], str) and _is_integer(head[1]) and head in kinds):
        return Verdict(False, "unknown type or version")
    errors = list(_validator(*head).iter_errors(doc))
    if errors:
        return Verdict(False, f"schema: {errors[0].validator} at {'/'.join(map(str, errors[0].absolute_path))}",
                       contract_good=False)
    problems = _domain_problems(doc) + _dates_plausible(doc["payload"])
    if not problems and head[0] == "SalaryDeclared":
        problems = _declaration_rules(doc["payload"], business_date)
    if problems:
        return Verdict(False, f"domain: {problems[0]}", contract_good=True)
    return Verdict(True, "", contract_good=True)


# Topics whose consumer takes a keyed tombstone as an erasure (docs/notifications.md, Erasure): its decoder
# hands tombstones over, and one keyed by a participant code is good there (processed, not dead-lettered).
ERASING_TOMBSTONES = {"participants.contacts"}


@lru_cache(maxsize=None)
def _decoder(topic: str) -> Decoder:
    return Decoder(spec(topic).messages, tombstones=topic in ERASING_TOMBSTONES)


def model_verdict(topic: str, key: bytes | None, value: bytes | None, headers=()) -> str:
    """``good``, ``bad`` (a DecodeError) or ``crash:<exception>`` (the decoder itself failed). Header keys
    given as bytes reach the decoder as a consumer receives them (``ansinh.runtime.kafka_records``)."""
    received = tuple((k.decode("utf-8", "surrogateescape") if isinstance(k, bytes) else k, v) for k, v in headers)
    try:
        _decoder(topic).decode(RawMessage(topic, 0, 0, key, value, received))
        return "good"
    except DecodeError:
        return "bad"
    except Exception as exc:  # noqa: BLE001 - exactly what we look for: a pure step that crashes
        return f"crash:{type(exc).__name__}"
