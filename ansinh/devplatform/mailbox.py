"""Real local servers for the notifications service's channels: the local platform's mailbox (what the demo's
participants receive), the tests' and the benchmark's.

* ``SmtpSink``: an aiosmtpd SMTP server (its own thread and event loop) that keeps every message it
  accepts, parsed, and can refuse a recipient (5xx) or answer the next DATA commands with a 4xx.
* ``Gateway``: an aiohttp HTTP server (its own thread) with the SMS and push endpoints the service calls.
  It records every request, honours ``Idempotency-Key`` like a real gateway (a key it accepted before is
  answered again without sending), and can answer scripted statuses, refuse numbers, or delay.

Both bind to 127.0.0.1 (a free port unless given). ``python -m ansinh.devplatform.mailbox`` runs both in their
own process (the local platform and the benchmark), printing their ports, with ``GET /_stats`` on the gateway
for the counts.
"""
from __future__ import annotations

import argparse
import asyncio
import email
import email.policy
import json
import socket
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Callable
from pathlib import Path

from aiohttp import web
from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class ReceivedMail:
    mail_from: str
    rcpt_tos: list[str]
    message: email.message.EmailMessage

    @property
    def body(self) -> str:
        return self.message.get_body(("plain",)).get_content()


class _SmtpHandler:
    def __init__(self, sink: "SmtpSink"):
        self.sink = sink

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.sink.mail_delay_s:  # before DATA: a slow server, yet a message it accepts is accepted whole
            await asyncio.sleep(self.sink.mail_delay_s)
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        code = self.sink.refused.get(address)
        if code:
            return f"{code} 5.1.1 recipient refused"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.sink.lock:
            if self.sink.busy_answers:
                return self.sink.busy_answers.popleft()
            self.sink.count += 1
            if self.sink.keep:
                parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
                self.sink.received.append(ReceivedMail(envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 2.0.0 accepted"


class SmtpSink:
    """A real SMTP server on 127.0.0.1; ``received`` holds what it accepted (``keep=False``: only counts)."""

    def __init__(self, port: int = 0, keep: bool = True):
        self.port = port or free_port()
        self.keep = keep
        self.lock = threading.Lock()
        self.received: list[ReceivedMail] = []
        self.count = 0
        self.refused: dict[str, int] = {}  # recipient -> 5xx code answered to RCPT
        self.busy_answers: deque[str] = deque()  # answers to the next DATA commands instead of accepting
        self.mail_delay_s = 0.0  # seconds before answering MAIL FROM
        self._controller = Controller(_SmtpHandler(self), hostname="127.0.0.1", port=self.port)

    def start(self) -> "SmtpSink":
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def refuse(self, address: str, code: int = 550) -> None:
        self.refused[address] = code

    def answer_busy(self, times: int, reply: str = "451 4.3.0 try again later") -> None:
        with self.lock:
            self.busy_answers.extend([reply] * times)

    def to(self, address: str) -> list[ReceivedMail]:
        with self.lock:
            return [m for m in self.received if address in m.rcpt_tos]


@dataclass
class GatewayRequest:
    path: str
    key: str | None
    authorization: str | None
    body: dict
    status: int
    duplicate: bool  # answered from the idempotency record: not sent again


@dataclass
class Gateway:
    """The SMS/push gateway: ``POST /sms`` and ``POST /push``."""

    token: str = ""
    port: int = 0
    keep: bool = True
    requests: list[GatewayRequest] = field(default_factory=list)
    refused: set[str] = field(default_factory=set)  # recipients answered 400 (an invalid number)
    delay_s: float = 0.0
    counts: Counter = field(default_factory=Counter)  # (path, "sent"|"duplicate"|status) -> n
    smtp_count: Callable[[], int] | None = None  # what GET /_stats reports for e-mail (the SMTP sink's count)

    def __post_init__(self):
        self.port = self.port or free_port()
        self._script: deque[int] = deque()
        self._accepted: dict[str, str] = {}  # idempotency key -> message id
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True, name="gateway")
        self._runner: web.AppRunner | None = None

    @property
    def sms_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/sms"

    @property
    def push_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/push"

    def script(self, *statuses: int) -> None:
        """Answer the next requests with these statuses (then normally)."""
        with self._lock:
            self._script.extend(statuses)

    def start(self) -> "Gateway":
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._serve(), self._loop).result(10)
        return self

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    async def _serve(self) -> None:
        app = web.Application()
        app.router.add_post("/sms", self._handle)
        app.router.add_post("/push", self._handle)
        app.router.add_get("/_stats", self._stats)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port, backlog=1024).start()

    def delivered(self, path: str | None = None) -> list[GatewayRequest]:
        """Requests that made the gateway send something (first acceptance of their key)."""
        with self._lock:
            return [r for r in self.requests if 200 <= r.status < 300 and not r.duplicate
                    and (path is None or r.path == path)]

    def for_key(self, key: str) -> list[GatewayRequest]:
        with self._lock:
            return [r for r in self.requests if r.key == key]

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        key = request.headers.get("Idempotency-Key")
        with self._lock:
            status, duplicate, message_id = self._decide(request, body, key)
            self.counts[(request.path, "duplicate" if duplicate else str(status))] += 1
            if self.keep:
                self.requests.append(GatewayRequest(request.path, key, request.headers.get("Authorization"),
                                                    body, status, duplicate))
        if 200 <= status < 300:
            return web.json_response({"id": message_id, "duplicate": duplicate}, status=status)
        return web.json_response({"error": f"scripted {status}"}, status=status)

    def _decide(self, request: web.Request, body: dict, key: str | None) -> tuple[int, bool, str]:
        if self.token and request.headers.get("Authorization") != f"Bearer {self.token}":
            return 401, False, ""
        if key is not None and key in self._accepted:  # idempotency: answered before, not sent again
            return 200, True, self._accepted[key]
        if self._script:
            return self._script.popleft(), False, ""
        if (body.get("to") or body.get("token")) in self.refused:
            return 400, False, ""
        message_id = f"m{len(self._accepted) + 1}"
        if key is not None:
            self._accepted[key] = message_id
        return 202, False, message_id

    async def _stats(self, request: web.Request) -> web.Response:
        with self._lock:
            counts = {f"{path} {what}": n for (path, what), n in self.counts.items()}
        return web.json_response({"gateway": counts, "smtp": self.smtp_count() if self.smtp_count else None})


def _pidfile(settings) -> Path:
    return settings.state_dir / "mailbox" / "mailbox.pid"


def start_mailbox(settings) -> str:
    """The local platform's mailbox: an SMTP sink and an SMS/push gateway the local notifications service
    delivers to (nothing leaves the machine)."""
    import sys

    from ansinh.ops.procs import check_port_is_ours, port_open, read_pid, start_detached, wait_until

    smtp, http = settings.mailbox_smtp_port, settings.mailbox_http_port
    ours = {pid} if (pid := read_pid(_pidfile(settings))) else set()
    if check_port_is_ours(http, ours, "this checkout's mailbox", "ANSINH_MAILBOX_HTTP_PORT"):
        return f"mailbox already answering on 127.0.0.1:{http}"
    root = settings.state_dir / "mailbox"
    root.mkdir(parents=True, exist_ok=True)
    start_detached([sys.executable, "-m", "ansinh.devplatform.mailbox", "--smtp-port", str(smtp), "--http-port",
                    str(http)], root / "mailbox.log", _pidfile(settings))
    wait_until(lambda: port_open("127.0.0.1", http) and port_open("127.0.0.1", smtp), 30, "the mailbox")
    return f"mailbox: SMTP 127.0.0.1:{smtp}, SMS/push gateway http://127.0.0.1:{http} (counts: /_stats)"


def stop_mailbox(settings) -> bool:
    from ansinh.ops.procs import stop_pid

    return stop_pid(_pidfile(settings), timeout=10)


def main() -> None:
    """Run the servers in this process until killed (the benchmark runs them apart from the service, one
    process for SMTP and one for the gateway, since both are Python and CPU-bound)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smtp-port", type=int, default=0)
    parser.add_argument("--http-port", type=int, default=0)
    parser.add_argument("--only", choices=["smtp", "http"], help="run one of the two (the other is not started)")
    args = parser.parse_args()
    sink = SmtpSink(args.smtp_port, keep=False).start() if args.only != "http" else None
    # The gateway also answers GET /_stats, which is how an SMTP-only process reports its count.
    gateway = Gateway(port=args.http_port, keep=False, smtp_count=(lambda: sink.count) if sink else (lambda: 0))
    gateway.start()
    print(json.dumps({"smtp_port": sink.port if sink else None, "http_port": gateway.port}), flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        gateway.stop()
        if sink:
            sink.stop()


if __name__ == "__main__":
    main()
