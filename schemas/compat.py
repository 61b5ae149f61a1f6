"""Backward compatibility of a message schema for its existing consumers.

A consumer built against the released schema breaks when a field it may rely on disappears, is renamed,
stops being required, or changes type or allowed values. Adding optional fields is fine (payloads ignore
unknown fields). Any breaking change needs a new ``schema_version``.
"""
from __future__ import annotations

from typing import Any


def _resolve(node: dict, root: dict) -> dict:
    while "$ref" in node:
        ref = node["$ref"]
        assert ref.startswith("#/$defs/"), ref
        node = root["$defs"][ref.split("/")[-1]]
    return node


def _kinds(node: dict, root: dict) -> list[dict]:
    node = _resolve(node, root)
    for key in ("anyOf", "oneOf"):
        if key in node:
            return [k for option in node[key] for k in _kinds(option, root)]
    return [node]


def _signature(node: dict) -> tuple:
    return (node.get("type"), node.get("format"), node.get("const"),
            tuple(node["enum"]) if "enum" in node else None)


def breaking_changes(old: dict, new: dict, path: str = "", old_root: dict | None = None,
                     new_root: dict | None = None) -> list[str]:
    """What in ``new`` would break a consumer of ``old``; empty when compatible."""
    old_root, new_root = old_root or old, new_root or new
    problems: list[str] = []
    old_kinds, new_kinds = _kinds(old, old_root), _kinds(new, new_root)
    old_sigs = {_signature(k) for k in old_kinds}
    for kind in new_kinds:
        sig = _signature(kind)
        if sig not in old_sigs and not _widens_enum(sig, old_sigs):
            problems.append(f"{path or '<root>'}: type changed from {sorted(map(str, old_sigs))} to {sig}")
    for old_kind in old_kinds:
        # Union members are matched by title (the model name) first, then by JSON type.
        match = next((k for k in new_kinds if k.get("title") and k.get("title") == old_kind.get("title")), None) \
            or next((k for k in new_kinds if _signature(k)[:2] == _signature(old_kind)[:2]), None)
        if match is None:
            continue
        if old_kind.get("type") == "object" and "properties" in old_kind:
            problems += _object_changes(old_kind, match, path, old_root, new_root)
        if old_kind.get("type") == "array" and "items" in old_kind and "items" in match:
            problems += breaking_changes(old_kind["items"], match["items"], f"{path}[]", old_root, new_root)
    return problems


def _widens_enum(sig: tuple, old_sigs: set) -> bool:
    # A producer adding enum values is a break for consumers; only identical enums pass.
    return False


def _object_changes(old: dict, new: dict, path: str, old_root: dict, new_root: dict) -> list[str]:
    problems = []
    old_required, new_required = set(old.get("required", [])), set(new.get("required", []))
    new_props: dict[str, Any] = new.get("properties", {})
    for name, sub in old.get("properties", {}).items():
        where = f"{path}.{name}" if path else name
        if name not in new_props:
            problems.append(f"{where}: removed or renamed")
            continue
        if name in old_required and name not in new_required:
            problems.append(f"{where}: no longer required")
        problems += breaking_changes(sub, new_props[name], where, old_root, new_root)
    return problems
