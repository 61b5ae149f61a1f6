"""What a channel adapter receives and promises: a batch of messages in, one Outcome per message out,
never an exception (a failure is an Outcome that says whether to try again)."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Protocol, Sequence

from services.notifications.domain.delivery import Outcome

# Namespace of idempotency keys (uuid5): the same notification and replay count give the same key.
KEY_NAMESPACE = uuid.UUID("6f1d2a4e-3c0b-5b7e-9a51-5e0c8d1b2a70")


@dataclass(frozen=True)
class Message:
    notification_id: int
    channel: str  # email | sms | push
    type: str
    recipient: str  # e-mail address, E.164 phone or app token
    subject: str | None
    body: str
    idempotency_key: str


def idempotency_key(event_id: uuid.UUID | str, participant_code: str, channel: str, replays: int) -> str:
    """Stable per notification (a resend after a crash carries the same key, so the gateway drops it), new
    per operator replay (a gateway may remember a refused key's answer; a replay must really try again).
    Derived from the notification's unique key rather than its serial id, which a rebuilt database reuses.
    E-mail's key is its Message-ID: SMTP remembers no key, and a replayed ``uncertain`` e-mail must carry the
    first send's Message-ID so mail clients collapse the duplicate, so replays do not change it."""
    replays = 0 if channel == "email" else replays
    return str(uuid.uuid5(KEY_NAMESPACE, f"{event_id}/{participant_code}/{channel}/{replays}"))


class Channel(Protocol):
    async def start(self) -> None: ...

    async def send(self, messages: Sequence[Message]) -> list[Outcome]: ...

    async def close(self) -> None: ...
