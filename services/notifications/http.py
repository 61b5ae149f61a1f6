"""HTTP (JSON) views of notifications, declared with their models and roles; the OpenAPI document is generated
from them (ansinh/runtime/openapi.py) and a copy kept in services/notifications/openapi.json.

* ``GET /participants/{participant_code}/notifications`` (notifications:read + personal_data:read): what a
  participant was told, on which channel, and what became of it;
* ``GET /notifications/failed`` (notifications:read): notifications given up (``failed``) or that may have gone
  twice (``uncertain``): no addresses, no content, no participant codes;
* ``POST /notifications/replay`` (notifications:replay): send failed or uncertain notifications again (audited).

``python -m services.notifications.http`` refreshes the copy of the document.
"""
from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, Field, model_validator

from ansinh.runtime import auth
from ansinh.runtime.openapi import Api, Call, write_document
from services.notifications import metrics
from services.notifications.delivery import replay as replays
from services.notifications.domain.delivery_errors import NothingToReplay

OPENAPI = Path(__file__).resolve().parent / "openapi.json"
NOTIFICATIONS_READ, NOTIFICATIONS_REPLAY = "notifications:read", "notifications:replay"
ERRORS = {NothingToReplay: 409}
Channel = Literal["email", "sms", "push"]
State = Literal["pending", "sending", "sent", "failed", "uncertain", "cancelled"]  # cancelled: contact erased
# A notification's id (bigserial): bounded so that a number too long for the column is an invalid request, not a
# database error answered 500.
NotificationId = Annotated[int, Field(ge=1, le=2**63 - 1)]


class ParticipantParams(BaseModel):
    participant_code: str = Field(pattern=r"^[0-9]{10}$", description="The 10-digit social insurance code")


class HistoryQuery(BaseModel):
    limit: int = Field(100, ge=1, le=1000, description="At most this many, newest first")


class Notification(BaseModel):
    id: int
    type: str
    channel: Channel
    language: str
    recipient: str = Field(description="The address it was sent to (e-mail, phone, app token)")
    subject: str | None
    body: str = Field(description="As rendered (identifiers masked)")
    state: State
    attempts: int
    last_error: str | None = Field(description="The last failure's code (smtp_451, http_503, timeout, ...)")
    triggered_at: datetime = Field(description="When the event that caused it happened")
    created_at: datetime
    sent_at: datetime | None
    next_attempt_at: datetime | None = Field(description="Pending only: when it is tried (again)")


class History(BaseModel):
    participant_code: str
    notifications: list[Notification]


class FailedQuery(BaseModel):
    state: Literal["failed", "uncertain", "all"] = Field("all", description="failed, uncertain, or both")
    channel: Channel | None = None
    limit: int = Field(500, ge=1, le=10000)


class FailedNotification(BaseModel):
    id: int
    type: str
    channel: Channel
    state: Literal["failed", "uncertain"]
    attempts: int
    last_error: str | None
    triggered_at: datetime
    failed_at: datetime | None = Field(description="failed: when it was given up")
    replays: int = Field(description="Times an operator sent it again before")


class FailedList(BaseModel):
    count: int
    notifications: list[FailedNotification]


class ReplayRequest(BaseModel):
    ids: list[NotificationId] | None = Field(None, max_length=10000,
                                             description="These notifications (failed or uncertain)")
    all_failed: bool = Field(False, description="Every failed notification (with channel: of that channel)")
    channel: Channel | None = None
    reason: str = Field(min_length=1, max_length=500, pattern=r"^[^\x00-\x1f]*$", description="Why (audited)")

    @model_validator(mode="after")
    def _one_selection(self) -> "ReplayRequest":
        if (self.ids is None) == (not self.all_failed):
            raise ValueError("give either ids or all_failed: true")
        return self


class ReplayResult(BaseModel):
    replayed: list[int] = Field(description="Sent again: pending now, attempts from zero")
    not_replayable: list[int] = Field(description="Asked for but neither failed nor uncertain (or unknown)")


def build_api(runtime) -> Api:
    api = Api("notifications", "1.0.0", runtime, errors=ERRORS,
              description="What participants were told, notifications given up or uncertain, and their replay.")
    declare(api)
    return api


def write_openapi() -> None:
    write_document(build_api(None), OPENAPI)


def declare(api: Api) -> None:
    @api.get("/participants/{participant_code}/notifications", summary="A participant's notifications, newest first",
             params=ParticipantParams, query=HistoryQuery, response=History,
             roles=(NOTIFICATIONS_READ, auth.PERSONAL_DATA_READ), tags=("notifications",))
    async def participant_history(call: Call) -> History:
        async with call.pool.acquire() as conn:
            rows = await replays.history(conn, call.params.participant_code, call.query.limit)
        return History(participant_code=call.params.participant_code, notifications=[
            Notification(**{k: r[k] for k in Notification.model_fields if k != "next_attempt_at"},
                         next_attempt_at=r["next_attempt_at"] if r["state"] == "pending" else None) for r in rows])

    @api.get("/notifications/failed", summary="Notifications given up or uncertain, for an operator to replay",
             query=FailedQuery, response=FailedList, roles=(NOTIFICATIONS_READ,), tags=("delivery",))
    async def failed_notifications(call: Call) -> FailedList:
        q = call.query
        states = ["failed", "uncertain"] if q.state == "all" else [q.state]
        async with call.pool.acquire() as conn:
            rows = await replays.to_review(conn, states, q.channel, q.limit)
        items = [FailedNotification(**{k: r[k] for k in FailedNotification.model_fields}) for r in rows]
        return FailedList(count=len(items), notifications=items)

    @api.post("/notifications/replay", summary="Send failed or uncertain notifications again (audited)",
              body=ReplayRequest, response=ReplayResult, roles=(NOTIFICATIONS_REPLAY,), tags=("delivery",))
    async def replay_notifications(call: Call) -> ReplayResult:
        b = call.body
        async with call.pool.acquire() as conn, conn.transaction():
            done = await replays.replay(conn, call.principal, b.ids, b.all_failed, b.channel, b.reason)
        for channel, n in done.by_channel.items():
            metrics.REPLAYED.labels(channel).inc(n)
        return ReplayResult(replayed=done.replayed, not_replayable=done.not_replayable)


if __name__ == "__main__":
    write_openapi()
