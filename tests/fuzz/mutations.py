"""Mutations of one field of a valid envelope: each says which fields it applies to and what it puts there.

Which of them make a message bad is not decided here: the referee (``tests/fuzz/referee.py``) judges the
result.
"""
from __future__ import annotations

import json
import uuid
from datetime import date
from typing import Any, Callable

from tests.fuzz.referee import law_limits

BUSINESS_DATE = date(2025, 9, 15)  # the collection service under test runs on this business date
MEGABYTE_STRING = 1_000_000
DELETE = object()
DEEP = "\ue000DEEP{}\ue000"  # placeholder replaced by raw nested arrays after encoding


def _is_period(v) -> bool:
    return isinstance(v, str) and len(v) == 7 and v[4] == "-" and v[:4].isdigit()


def _is_date(v) -> bool:
    return isinstance(v, str) and len(v) == 10 and v[4] == "-" and v[7] == "-"


def _is_datetime(v) -> bool:
    return isinstance(v, str) and len(v) > 10 and v[10] in "Tt"


def _is_uuid(v) -> bool:
    try:
        return isinstance(v, str) and str(uuid.UUID(v)) == v
    except ValueError:
        return False


def _has_digits(v) -> bool:
    return isinstance(v, str) and any(c in "0123456789" for c in v)


def _plain(v) -> bool:
    return isinstance(v, str) and not (_is_period(v) or _is_date(v) or _is_datetime(v) or _is_uuid(v))


def _int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def month_shift(period: str, months: int) -> str:
    y, m = map(int, period.split("-"))
    i = y * 12 + m - 1 + months
    return f"{i // 12:04d}-{i % 12 + 1:02d}"


_ARABIC = str.maketrans("0123456789", "\u0660\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669")
_FULLWIDTH = str.maketrans("0123456789", "\uff10\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18\uff19")
BUSINESS_PERIOD = f"{BUSINESS_DATE.year:04d}-{BUSINESS_DATE.month:02d}"

# name -> (applies to (path, value), new value from (value)); DELETE removes the field.
Mutation = tuple[Callable[[tuple, Any], bool], Callable[[Any], Any]]
MUTATIONS: dict[str, Mutation] = {
    "missing": (lambda p, v: len(p) > 0, lambda v: DELETE),
    "null": (lambda p, v: True, lambda v: None),
    "as_string": (lambda p, v: _int(v) or isinstance(v, bool), lambda v: str(v).lower()),
    "as_int": (lambda p, v: isinstance(v, str), lambda v: 20250701),
    "as_bool": (lambda p, v: not isinstance(v, bool), lambda v: True),
    "as_list": (lambda p, v: True, lambda v: [v]),
    "as_object": (lambda p, v: not isinstance(v, dict), lambda v: {"value": v}),
    "int_as_float": (lambda p, v: _int(v), lambda v: float(v)),
    "int_fraction": (lambda p, v: _int(v), lambda v: v + 0.5),
    "int_2p63": (lambda p, v: _int(v), lambda v: 2**63),
    "int_2p64": (lambda p, v: _int(v), lambda v: 2**64),
    "int_neg_2p63_minus_1": (lambda p, v: _int(v), lambda v: -2**63 - 1),
    "int_1e30": (lambda p, v: _int(v), lambda v: 10**30),
    "int_minus_1": (lambda p, v: _int(v), lambda v: -1),
    "int_zero": (lambda p, v: _int(v), lambda v: 0),
    "revision_2p31": (lambda p, v: _int(v) and p[-1] == "revision", lambda v: 2**31),
    "nul_inside": (lambda p, v: isinstance(v, str), lambda v: v[:1] + "\x00" + v[1:]),
    "lone_surrogate_escape": (lambda p, v: isinstance(v, str), lambda v: v[:1] + "\ud800" + v[1:]),
    "rtl_mark": (lambda p, v: isinstance(v, str), lambda v: "\u200f" + v),
    "arabic_indic_digits": (lambda p, v: _has_digits(v), lambda v: v.translate(_ARABIC)),
    "fullwidth_digits": (lambda p, v: _has_digits(v), lambda v: v.translate(_FULLWIDTH)),
    "trailing_newline": (lambda p, v: isinstance(v, str), lambda v: v + "\n"),
    "leading_space": (lambda p, v: isinstance(v, str), lambda v: " " + v),
    "empty_string": (lambda p, v: isinstance(v, str), lambda v: ""),
    "length_201": (lambda p, v: _plain(v), lambda v: (v * 201)[:201]),
    "length_200": (lambda p, v: _plain(v) and len(v) > 0, lambda v: (v * 200)[:200]),
    "megabyte_string": (lambda p, v: isinstance(v, str), lambda v: "x" * MEGABYTE_STRING),
    "emoji": (lambda p, v: isinstance(v, str), lambda v: v + "\U0001f600"),
    "combining_mark": (lambda p, v: _plain(v), lambda v: v + "\u0301"),
    "upper_case": (lambda p, v: _plain(v) and v != v.upper(), lambda v: v.upper()),
    # derived from the value, so two messages never share it (two payments with one id are a conflict)
    "unknown_value": (lambda p, v: _plain(v), lambda v: "zz" + v[::-1]),
    "period_year_0": (lambda p, v: _is_period(v), lambda v: "0000" + v[4:]),
    "period_year_9999": (lambda p, v: _is_period(v), lambda v: "9999" + v[4:]),
    "period_month_13": (lambda p, v: _is_period(v), lambda v: v[:5] + "13"),
    "period_month_00": (lambda p, v: _is_period(v), lambda v: v[:5] + "00"),
    "period_one_digit_month": (lambda p, v: _is_period(v), lambda v: v[:5] + str(int(v[5:]) or 1)),
    "period_before_law": (lambda p, v: _is_period(v), lambda v: month_shift(law_limits().first_period, -1)),
    "period_first_of_law": (lambda p, v: _is_period(v), lambda v: law_limits().first_period),
    "period_next_month": (lambda p, v: _is_period(v), lambda v: month_shift(BUSINESS_PERIOD, 1)),
    "period_two_ahead": (lambda p, v: _is_period(v), lambda v: month_shift(BUSINESS_PERIOD, 2)),
    "date_0001_01_01": (lambda p, v: _is_date(v), lambda v: "0001-01-01"),
    "date_9999_12_31": (lambda p, v: _is_date(v), lambda v: "9999-12-31"),
    "date_year_0": (lambda p, v: _is_date(v), lambda v: "0000-01-01"),
    "date_feb_29_2025": (lambda p, v: _is_date(v), lambda v: "2025-02-29"),
    "date_feb_29_2024": (lambda p, v: _is_date(v), lambda v: "2024-02-29"),
    "date_basic_format": (lambda p, v: _is_date(v), lambda v: v.replace("-", "")),
    "date_with_time": (lambda p, v: _is_date(v), lambda v: v + "T00:00:00+07:00"),
    "datetime_no_offset": (lambda p, v: _is_datetime(v), lambda v: v[:19]),
    "datetime_offset_14": (lambda p, v: _is_datetime(v), lambda v: v[:19] + "+14:00"),
    "datetime_offset_25": (lambda p, v: _is_datetime(v), lambda v: v[:19] + "+25:00"),
    "datetime_year_1": (lambda p, v: _is_datetime(v), lambda v: "0001-01-01T00:00:00+14:00"),
    "datetime_space": (lambda p, v: _is_datetime(v), lambda v: v[:10] + " " + v[11:]),
    "uuid_hyphenless": (lambda p, v: _is_uuid(v), lambda v: v.replace("-", "")),
    "uuid_upper": (lambda p, v: _is_uuid(v), lambda v: v.upper()),
    "uuid_braces": (lambda p, v: _is_uuid(v), lambda v: "{" + v + "}"),
    "uuid_urn": (lambda p, v: _is_uuid(v), lambda v: "urn:uuid:" + v),
    "empty_list": (lambda p, v: isinstance(v, list), lambda v: []),
    "list_times_6": (lambda p, v: isinstance(v, list) and len(v) > 0, lambda v: (v * 6)[:max(6, len(v))]),
    "deep_10000": (lambda p, v: len(p) > 0, lambda v: DEEP.format(10_000)),
    "empty_object": (lambda p, v: isinstance(v, dict), lambda v: {}),
    "extra_field": (lambda p, v: isinstance(v, dict), lambda v: {**v, "zz_extra": "bổ sung"}),
    "extra_field_megabyte": (lambda p, v: isinstance(v, dict), lambda v: {**v, "zz_extra": "y" * MEGABYTE_STRING}),
    "schema_version_2": (lambda p, v: p == ("schema_version",), lambda v: 2),
    "type_lower_case": (lambda p, v: p == ("type",), lambda v: v.lower()),
    "payload_double_encoded": (lambda p, v: p == ("payload",), lambda v: json.dumps(v)),
}
MUTATION_NAMES = sorted(MUTATIONS)


def field_paths(doc: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix] if prefix else []
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += field_paths(v, prefix + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc[:2]):
            out += field_paths(v, prefix + (i,))
    return out


def get_at(doc: Any, path: tuple) -> Any:
    for p in path:
        doc = doc[p]
    return doc


def set_at(doc: Any, path: tuple, value: Any) -> None:
    parent = get_at(doc, path[:-1])
    if value is DELETE:
        if isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent.pop(path[-1])
    else:
        parent[path[-1]] = value


def mutate(doc: dict, mutation: str, pick: int, prefer: tuple[str, ...] = ()) -> str | None:
    """Apply ``mutation`` to the ``pick``-th field it applies to (those named in ``prefer`` first, when any
    of them is there); returns the field's path, None when no field fits."""
    applies, change = MUTATIONS[mutation]
    candidates = [p for p in field_paths(doc) if applies(p, get_at(doc, p))]
    preferred = [p for name in prefer for p in candidates if p[-1] == name]
    candidates = preferred or candidates
    if not candidates:
        return None
    path = candidates[0 if preferred else pick % len(candidates)]
    set_at(doc, path, change(get_at(doc, path)))
    return ".".join(map(str, path))
