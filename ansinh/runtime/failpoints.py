"""Crash injection for tests: ``ANSINH_FAILPOINTS=outbox.after_fetch`` kills the process at that point.

A real crash (``os._exit``), not an exception: nothing is cleaned up, exactly like a killed pod.
"""
from __future__ import annotations

import os

EXIT_CODE = 86


def hit(name: str) -> None:
    if name in os.environ.get("ANSINH_FAILPOINTS", "").split(","):
        os._exit(EXIT_CODE)
