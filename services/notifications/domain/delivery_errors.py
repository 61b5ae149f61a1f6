"""Delivery's refusals of an operator's request (part of the service's one hierarchy, domain/errors.py)."""
from services.notifications.domain.errors import NotificationsError


class NothingToReplay(NotificationsError):
    """None of the notifications asked for is failed or uncertain (already sent, pending, or unknown)."""

    code = "nothing_to_replay"
