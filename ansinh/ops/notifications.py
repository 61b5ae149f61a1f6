"""Operators' view of notification delivery: the failed and uncertain list, replay, a participant's history.

    ansinh notifications failed [--state failed|uncertain|all] [--channel sms]
    ansinh notifications replay ID [ID ...] --reason "gateway fixed"        (audited)
    ansinh notifications replay --all-failed [--channel sms] --reason "..."  (every failed one; never uncertain)
    ansinh notifications history PARTICIPANT

Talks to the notifications service's HTTP API with the operator's own bearer token from
``ANSINH_OPERATOR_TOKEN`` (roles notifications:read, notifications:replay; personal_data:read for a history),
so the service checks the roles and writes the audit record under the operator's name; this module never
touches the database. ``ANSINH_NOTIFICATIONS_URL`` points at another address than the local default.
"""
from __future__ import annotations

import argparse
import urllib.error
import urllib.parse
from dataclasses import dataclass

from rich.console import Console
from rich.table import Table

from ansinh.ops.service_api import OperatorError, ServiceClient

class NotificationsCommandError(OperatorError):
    """The request could not be made or was refused; the text says why and what to do."""


@dataclass(frozen=True)
class Client:
    api: ServiceClient

    @classmethod
    def from_environment(cls) -> "Client":
        return cls(ServiceClient.from_environment(
            "notifications", "roles notifications:read, notifications:replay to replay, personal_data:read for a "
            "history", NotificationsCommandError))

    def failed(self, state: str = "all", channel: str | None = None) -> dict:
        query = {"state": state, **({"channel": channel} if channel else {})}
        return self.api.json("GET", "/notifications/failed?" + urllib.parse.urlencode(query))

    def replay(self, ids: list[int] | None, all_failed: bool, channel: str | None, reason: str) -> dict:
        body = {"reason": reason, "all_failed": all_failed, **({"ids": ids} if ids else {}),
                **({"channel": channel} if channel else {})}
        return self.api.json("POST", "/notifications/replay", body)

    def history(self, participant_code: str) -> dict:
        return self.api.json("GET", f"/participants/{urllib.parse.quote(participant_code, safe='')}/notifications")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=["failed", "replay", "history"])
    p.add_argument("targets", nargs="*", metavar="ID|PARTICIPANT",
                   help="replay: notification ids; history: the participant's 10-digit code")
    p.add_argument("--all-failed", action="store_true", help="replay: every failed notification (not uncertain)")
    p.add_argument("--channel", choices=["email", "sms", "push"], help="only this channel")
    p.add_argument("--state", choices=["failed", "uncertain", "all"], default="all", help="failed: which to list")
    p.add_argument("--reason", help="replay: why (required; audited)")


def run(args: argparse.Namespace, console: Console) -> int:
    try:
        client = Client.from_environment()
        if args.action == "failed":
            _print_failed(console, client.failed(args.state, args.channel))
        elif args.action == "history":
            if len(args.targets) != 1:
                console.print("[red]✗ usage: ansinh notifications history PARTICIPANT[/]")
                return 2
            _print_history(console, client.history(args.targets[0]))
        else:
            return _replay(console, client, args)
    except NotificationsCommandError as exc:
        console.print(f"[red]✗ {exc}[/]")
        return 1
    return 0


def _replay(console: Console, client: Client, args: argparse.Namespace) -> int:
    ids = []
    for target in args.targets:
        if not target.isdigit():
            console.print(f"[red]✗ not a notification id: {target[:20]!r}[/]")
            return 2
        ids.append(int(target))
    if bool(ids) == args.all_failed or not (args.reason or "").strip():
        console.print("[red]✗ usage: ansinh notifications replay ID [ID ...] --reason \"why\"  "
                      "(or --all-failed [--channel C] --reason \"why\")[/]")
        return 2
    answer = client.replay(ids or None, args.all_failed, args.channel, args.reason.strip())
    console.print(f"replayed {len(answer['replayed'])} notifications: {_ids(answer['replayed'])}")
    if answer["not_replayable"]:
        console.print(f"[yellow]not failed or uncertain, left alone: {_ids(answer['not_replayable'])}[/]")
    return 0


def _ids(ids: list[int]) -> str:
    return ", ".join(map(str, ids[:50])) + (f" ... ({len(ids)} in all)" if len(ids) > 50 else "")


def _print_failed(console: Console, answer: dict) -> None:
    table = Table("id", "channel", "type", "state", "attempts", "last error", "failed at", "replays",
                  title=f"{answer['count']} notifications to review")
    for n in answer["notifications"]:
        table.add_row(str(n["id"]), n["channel"], n["type"], n["state"], str(n["attempts"]), n["last_error"] or "",
                      n["failed_at"] or "", str(n["replays"]))
    console.print(table)


def _print_history(console: Console, answer: dict) -> None:
    table = Table("id", "created", "type", "channel", "state", "attempts", "sent at",
                  title=f"notifications of {answer['participant_code']}")
    for n in answer["notifications"]:
        table.add_row(str(n["id"]), n["created_at"], n["type"], n["channel"], n["state"], str(n["attempts"]),
                      n["sent_at"] or "")
    console.print(table)
