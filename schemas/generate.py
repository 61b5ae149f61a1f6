"""Generate the committed contract files from the models: JSON Schemas and the AsyncAPI 3.0 document.

``python -m schemas.generate`` writes them; ``--check`` fails when the committed files drift.
New (type, version) pairs are also frozen into ``schemas/released/``, which is never rewritten: the
compatibility test compares each model against its released schema.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from schemas.base import Message
from schemas.envelope import Envelope
from schemas.topics import CATALOGUE, all_messages

ROOT = Path(__file__).resolve().parent
JSON_DIR = ROOT / "json"
RELEASED_DIR = ROOT / "released"
ASYNCAPI = ROOT / "asyncapi.json"


def file_name(message: type[Message]) -> str:
    return f"{message.event_type}.v{message.schema_version}.json"


def message_schema(message: type[Message]) -> dict:
    """The JSON Schema of a whole event: the envelope with this message as its payload."""
    envelope = Envelope.model_json_schema()
    payload = message.model_json_schema()
    defs = payload.pop("$defs", {})
    envelope["title"] = message.event_type
    envelope["description"] = (message.__doc__ or "").strip()
    envelope["properties"]["type"] = {"const": message.event_type, "title": "Type", "type": "string"}
    envelope["properties"]["schema_version"] = {"const": message.schema_version, "title": "Schema Version",
                                                "type": "integer"}
    envelope["properties"]["payload"] = payload
    if defs:
        envelope["$defs"] = defs
    _asyncapi_discriminators(envelope)
    envelope["$id"] = f"https://ansinh.org/schemas/{file_name(message)}"
    envelope["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return envelope


def _asyncapi_discriminators(node) -> None:
    """pydantic writes OpenAPI's ``discriminator`` object; AsyncAPI schemas want the property name (plain
    JSON Schema ignores the keyword either way)."""
    if isinstance(node, dict):
        if isinstance(node.get("discriminator"), dict):
            node["discriminator"] = node["discriminator"]["propertyName"]
        for value in node.values():
            _asyncapi_discriminators(value)
    elif isinstance(node, list):
        for value in node:
            _asyncapi_discriminators(value)


def asyncapi_document() -> dict:
    channels, operations, messages = {}, {}, {}
    for topic in CATALOGUE:
        cid = topic.name.replace(".", "_").replace("-", "_")
        refs = {}
        for m in topic.messages:
            messages[m.event_type] = {
                "name": m.event_type, "title": m.event_type, "contentType": "application/json",
                "summary": (m.__doc__ or "").strip().splitlines()[0] if m.__doc__ else m.event_type,
                "payload": {"$ref": f"./json/{file_name(m)}"},
                "bindings": {"kafka": {"key": {"type": "string", "description": topic.key}}},
            }
            refs[m.event_type] = {"$ref": f"#/components/messages/{m.event_type}"}
        channels[cid] = {
            "address": topic.name, "description": topic.summary, "messages": refs,
            "bindings": {"kafka": {"topic": topic.name, "partitions": topic.partitions,
                                   "topicConfiguration": _topic_configuration(topic.config)}},
            "x-producers": list(topic.producers), "x-consumers": list(topic.consumers),
            "x-dead-letter-topic": topic.dlq,
        }
        ours_send = topic.direction in ("out", "internal")
        operations[f"{'send' if ours_send else 'receive'}_{cid}"] = {
            "action": "send" if ours_send else "receive",
            "channel": {"$ref": f"#/channels/{cid}"},
            "summary": f"{', '.join(topic.producers)} -> {', '.join(topic.consumers)}",
            "messages": [{"$ref": f"#/channels/{cid}/messages/{m.event_type}"} for m in topic.messages],
        }
    return {
        "asyncapi": "3.0.0",
        "info": {"title": "ansinh event contracts", "version": "1.0.0",
                 "description": "Public and internal topics of the ansinh social insurance platform. Every "
                                "event is a UTF-8 JSON envelope; consumers deduplicate on event_id. Every "
                                "consumed topic has a <topic>.dlq twin holding rejected messages' original bytes."},
        "defaultContentType": "application/json",
        "servers": {"local": {"host": "127.0.0.1:19092", "protocol": "kafka",
                              "description": "the embedded platform of `ansinh platform up`"}},
        "channels": channels, "operations": operations, "components": {"messages": messages},
    }


def _topic_configuration(config: dict[str, str]) -> dict:
    out: dict = {}
    if "cleanup.policy" in config:
        out["cleanup.policy"] = [config["cleanup.policy"]]
    if "retention.ms" in config:
        out["retention.ms"] = int(config["retention.ms"])
    if "max.message.bytes" in config:
        out["max.message.bytes"] = int(config["max.message.bytes"])
    return out


def rendered() -> dict[Path, str]:
    """Every generated file and its content."""
    files = {JSON_DIR / file_name(m): _dump(message_schema(m)) for m in all_messages()}
    files[ASYNCAPI] = _dump(asyncapi_document())
    return files


def _dump(doc: dict) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def drift() -> list[str]:
    """Paths whose committed content differs from what the models generate (or stray files)."""
    files = rendered()
    problems = [str(p.relative_to(ROOT)) for p, text in files.items()
                if not p.exists() or p.read_text() != text]
    if JSON_DIR.exists():
        problems += [str(p.relative_to(ROOT)) + " (stale)" for p in JSON_DIR.glob("*.json") if p not in files]
    return problems


def write() -> list[Path]:
    JSON_DIR.mkdir(exist_ok=True)
    RELEASED_DIR.mkdir(exist_ok=True)
    files = rendered()
    for stale in JSON_DIR.glob("*.json"):
        if stale not in files:
            stale.unlink()
    for path, text in files.items():
        path.write_text(text)
        released = RELEASED_DIR / path.name
        if path.parent == JSON_DIR and not released.exists():
            released.write_text(text)
    return list(files)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the committed files drift")
    args = parser.parse_args(argv)
    if args.check:
        problems = drift()
        for p in problems:
            print(f"drift: schemas/{p}; run `ansinh schemas generate`", file=sys.stderr)
        return 1 if problems else 0
    for path in write():
        print(f"wrote {path.relative_to(ROOT.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
