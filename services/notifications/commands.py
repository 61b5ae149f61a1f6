"""Commands of notifications, translated from wire messages at the edge: a contact record to store."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import time
from uuid import UUID

from ansinh.runtime.decoding import Incoming
from services.notifications.domain.contacts import Contact, Version


@dataclass(frozen=True)
class StoreContact:
    contact: Contact
    version: Version
    event_id: UUID


def store_contact(item: Incoming) -> StoreContact:
    m = item.message
    quiet = m.sms_quiet_hours
    start, end = (time.fromisoformat(quiet.start), time.fromisoformat(quiet.end)) if quiet else (None, None)
    # Equal times are kept as they are: "no quiet hours" (the contract), which delivery reads as none; turning
    # them into NULL made delivery apply its default (21:00-07:00) to a participant who had said "none".
    contact = Contact(m.participant_code, m.language, m.phone, m.email, m.app_token,
                      tuple(dict.fromkeys(m.channels)), start, end)
    return StoreContact(contact, Version(item.raw.partition, item.raw.offset, item.envelope.occurred_at),
                        item.envelope.event_id)


def newest_per_participant(commands: list[StoreContact]) -> list[StoreContact]:
    """Of several records of one participant in a batch, the newest (one row per participant per statement)."""
    newest: dict[str, StoreContact] = {}
    for command in commands:
        held = newest.get(command.contact.participant_code)
        if held is None or command.version.newer_than(held.version):
            newest[command.contact.participant_code] = command
    return list(newest.values())
