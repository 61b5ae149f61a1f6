"""Commands of notifications, translated from wire messages at the edge: a contact record to store, or (a
tombstone on the compacted topic) a participant's contact details to erase."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import time
from uuid import UUID

import re

from ansinh.runtime.decoding import Incoming, Tombstone
from services.notifications.domain.contacts import Contact, Version
from services.notifications.domain.errors import InvalidTombstoneKey

PARTICIPANT_CODE = re.compile(rb"[0-9]{10}")  # the topic's key: the 10-digit social insurance code


@dataclass(frozen=True)
class StoreContact:
    contact: Contact
    version: Version
    event_id: UUID

    @property
    def participant_code(self) -> str:
        return self.contact.participant_code


@dataclass(frozen=True)
class EraseContact:
    """The registry deleted the participant's record: erase their contact details (privacy)."""

    participant_code: str
    version: Version
    event_id: UUID  # the tombstone's derived id (``ansinh.runtime.decoding.Tombstone``)


def contact_command(item: Incoming | Tombstone) -> StoreContact | EraseContact:
    """Raises ``InvalidTombstoneKey`` for a tombstone whose key is not a participant code."""
    if isinstance(item, Tombstone):
        if not PARTICIPANT_CODE.fullmatch(item.raw.key or b""):
            raise InvalidTombstoneKey("tombstone key is not a 10-digit participant code: nothing to erase")
        return EraseContact(item.raw.key.decode("ascii"), Version(item.raw.partition, item.raw.offset),
                            item.envelope.event_id)
    return store_contact(item)


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


def newest_per_participant(commands: list[StoreContact | EraseContact]) -> list[StoreContact | EraseContact]:
    """Of several records of one participant in a batch, the newest (one row per participant per statement)."""
    newest: dict[str, StoreContact | EraseContact] = {}
    for command in commands:
        held = newest.get(command.participant_code)
        if held is None or command.version.newer_than(held.version):
            newest[command.participant_code] = command
    return list(newest.values())
