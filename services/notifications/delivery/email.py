"""E-mail over SMTP (aiosmtplib): a few long-lived SMTP sessions, each sending many messages.

The message is UTF-8 (``Subject`` as RFC 2047 encoded words, the body base64, so the relay needs no
8BITMIME), with a ``Message-ID`` derived from the notification, so a message an operator sends
again after a crash (state ``uncertain``) carries the same id and mail clients that collapse duplicates do.
Reply codes decide the outcome (``smtp_outcome``): 4xx transient, 5xx permanent; a lost connection or a
timeout is transient and the session is opened again for the next message.
"""
from __future__ import annotations

import asyncio
import logging
import base64
from email.header import Header
from email.headerregistry import Address
from email.utils import formataddr, formatdate, parseaddr
from typing import Sequence

import aiosmtplib

from services.notifications.delivery.channels import Message
from services.notifications.delivery.settings import DeliverySettings
from services.notifications.domain.delivery import Outcome, smtp_outcome

log = logging.getLogger("services.notifications.email")


def build_email(message: Message, mail_from: str) -> bytes:
    """The RFC 5322 bytes of one notification: UTF-8 subject as RFC 2047 encoded words, the body in base64.

    Written out by hand rather than with ``email.message.EmailMessage``: the standard library's header
    registry costs about 1.4 ms a message, which capped a sender at ~700 e-mails/s per core (measured with
    bench/notifications_delivery.py); this costs a few microseconds. ``tests/.../test_delivery_channels.py``
    parses what a real SMTP server received with the standard library to check it.
    """
    return build_from(message, _from_header(mail_from), message_id(message, mail_from))


def _from_header(mail_from: str) -> str:
    name, address = parseaddr(mail_from)
    return formataddr((name, address), charset="utf-8")  # a non-ASCII display name is RFC 2047-encoded


def build_from(message: Message, from_header: str, msg_id: str) -> bytes:
    subject = Header(message.subject or "", "utf-8").encode(linesep="\r\n") if not (message.subject or "").isascii() \
        else (message.subject or "")
    body = base64.encodebytes(message.body.encode("utf-8")).decode("ascii").replace("\n", "\r\n")
    head = (f"From: {from_header}\r\nTo: {message.recipient}\r\nSubject: {subject}\r\n"
            f"Date: {formatdate(usegmt=True)}\r\nMessage-ID: {msg_id}\r\n"
            # RFC 3834: out-of-office replies are not sent back to us
            "Auto-Submitted: auto-generated\r\nMIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n")
    return (head + body).encode("ascii")  # a non-ASCII address raises UnicodeEncodeError: refused by the caller


def message_id(message: Message, mail_from: str) -> str:
    domain = parseaddr(mail_from)[1].rpartition("@")[2] or "ansinh.localhost"
    return f"<{message.idempotency_key}@{domain}>"


class SmtpChannel:
    """Sends on ``smtp_connections`` sessions in parallel; one message per session at a time."""

    def __init__(self, settings: DeliverySettings):
        self.settings = settings
        self._idle: asyncio.Queue[aiosmtplib.SMTP] = asyncio.Queue()
        self._sessions = max(settings.smtp_connections, 1)
        self._sender = parseaddr(settings.mail_from)[1]
        Address(addr_spec=self._sender)  # refuse a malformed sender at start-up
        self._from = _from_header(settings.mail_from)

    async def start(self) -> None:
        for _ in range(self._sessions):
            self._idle.put_nowait(self._client())

    def _client(self) -> aiosmtplib.SMTP:
        s = self.settings
        return aiosmtplib.SMTP(hostname=s.smtp_host, port=s.smtp_port, timeout=s.smtp_timeout_s,
                               use_tls=s.smtp_tls == "implicit", start_tls=True if s.smtp_tls == "starttls" else False,
                               username=s.smtp_username or None,
                               password=s.smtp_password.get_secret_value() or None)

    async def send(self, messages: Sequence[Message]) -> list[Outcome]:
        return list(await asyncio.gather(*(self._send_one(m) for m in messages)))

    async def _send_one(self, message: Message) -> Outcome:
        try:
            mail = build_from(message, self._from, message_id(message, self.settings.mail_from))
        except UnicodeEncodeError:
            return Outcome.permanent("invalid_address")  # SMTPUTF8 addresses are not supported
        client = await self._idle.get()
        try:
            return await self._deliver(client, message.recipient, mail)
        finally:
            self._idle.put_nowait(client)

    async def _deliver(self, client: aiosmtplib.SMTP, recipient: str, mail: bytes) -> Outcome:
        try:
            if not client.is_connected:
                await client.connect()
            await client.sendmail(self._sender, [recipient], mail)
            return Outcome.sent()
        except aiosmtplib.SMTPRecipientsRefused as exc:
            return smtp_outcome(min((r.code for r in exc.recipients), default=550))
        except aiosmtplib.SMTPResponseException as exc:
            outcome = smtp_outcome(exc.code)
            if exc.code in (421,) or isinstance(exc, aiosmtplib.SMTPConnectResponseError):
                await _close(client)  # 421: the server is closing the session
            else:
                await _reset(client)
            return outcome
        except (aiosmtplib.SMTPTimeoutError, asyncio.TimeoutError):
            await _close(client)
            return Outcome.transient("smtp_timeout")
        except (aiosmtplib.SMTPException, OSError) as exc:
            await _close(client)
            log.warning("SMTP session failed: %s", type(exc).__name__)
            return Outcome.transient("smtp_connection")

    async def close(self) -> None:
        while not self._idle.empty():
            await _quit(self._idle.get_nowait())


async def _reset(client: aiosmtplib.SMTP) -> None:
    """After a refused message the session stays usable; RSET clears the half-done transaction."""
    try:
        await client.rset()
    except Exception:  # noqa: BLE001 - a session that cannot even reset is reopened next time
        await _close(client)


async def _close(client: aiosmtplib.SMTP) -> None:
    try:
        client.close()
    except Exception:  # noqa: BLE001 - already gone
        pass


async def _quit(client: aiosmtplib.SMTP) -> None:
    if client.is_connected:
        try:
            await client.quit()
        except Exception:  # noqa: BLE001 - closing anyway
            await _close(client)
