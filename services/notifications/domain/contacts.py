"""Contacts: which channels reach a participant, and which of two contact records is the newer one."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time

CHANNELS = ("email", "sms", "push")
# The field of a contact that addresses each channel.
ADDRESS = {"email": "email", "sms": "phone", "push": "app_token"}


@dataclass(frozen=True)
class Contact:
    participant_code: str
    language: str
    phone: str | None = None
    email: str | None = None
    app_token: str | None = None
    channels: tuple[str, ...] = ()  # as chosen; empty: no choice made
    quiet_from: time | None = None
    quiet_until: time | None = None


@dataclass(frozen=True)
class Version:
    """Where a contact record sits on ``participants.contacts``: the one later on the topic wins, whatever
    order they are read in.

    The topic is compacted and keyed by participant, so a participant's records share one partition and
    the higher offset is the newer one: that is what compaction keeps and the registry's own order. The
    event time is kept for display only: deciding by it let one record dated 2099 lock a contact forever.
    (Partition first only makes the order total; it matters only if the topic's partitions were changed.)"""

    partition: int
    offset: int
    occurred_at: datetime | None = None  # shown to operators; never compared

    def newer_than(self, other: "Version") -> bool:
        return (self.partition, self.offset) > (other.partition, other.offset)


def usable_channels(contact: Contact | None) -> list[tuple[str, str]]:
    """``(channel, address)`` for each channel the participant wants and has an address for.

    A participant who made no choice (the registry's default, an empty list) is reached on every channel
    they gave an address for: the agency has a duty to inform, and an address given is consent to use it.
    """
    if contact is None:
        return []
    wanted = contact.channels or CHANNELS
    found = []
    for channel in dict.fromkeys(wanted):
        address = getattr(contact, ADDRESS[channel])
        if address:
            found.append((channel, address))
    return found
