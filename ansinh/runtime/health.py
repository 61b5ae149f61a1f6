"""Whether a service can do its work right now: started, and no operation stuck on a fault.

The retry policy (``ansinh.runtime.retry``) reports here: an operation that is being retried after a
transient fault (database or broker unreachable) or held on a bug of ours marks the service not ready;
when it passes, readiness comes back by itself. ``/ready`` and the ``ansinh_ready`` gauge read it.
"""
from __future__ import annotations

from ansinh.runtime.metrics import READY


class Health:
    def __init__(self, service: str):
        self.service = service
        self.started = False
        self.waiting_on: dict[str, str] = {}  # operation -> error class it is waiting out

    @property
    def ready(self) -> bool:
        return self.started and not self.waiting_on

    def start(self) -> None:
        self.started = True
        self._publish()

    def stop(self) -> None:
        self.started = False
        self._publish()

    def failing(self, operation: str, error_class: str) -> None:
        self.waiting_on[operation] = error_class
        self._publish()

    def recovered(self, operation: str) -> None:
        if self.waiting_on.pop(operation, None) is not None:
            self._publish()

    def _publish(self) -> None:
        READY.labels(self.service).set(1 if self.ready else 0)


_BY_SERVICE: dict[str, Health] = {}


def of(service: str) -> Health:
    """The process-wide health of ``service`` (one per service name)."""
    if service not in _BY_SERVICE:
        _BY_SERVICE[service] = Health(service)
    return _BY_SERVICE[service]
