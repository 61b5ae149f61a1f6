"""Notifications' errors: each names what is wrong (a field, a template), never a participant's data."""
from ansinh.runtime.errors import PermanentError


class NotificationsError(PermanentError):
    """Base of every refusal by the notifications service (the message goes to the DLQ with this text)."""

    code = "rejected"


class MissingTemplate(NotificationsError):
    """No template for a message type and language: a deployment mistake, named by type and language."""

    code = "missing_template"


class UnknownMessageType(NotificationsError):
    code = "unknown_message_type"


class InvalidTombstoneKey(NotificationsError):
    """A tombstone on participants.contacts whose key is not a participant code (it would erase nobody)."""

    code = "invalid_tombstone_key"
