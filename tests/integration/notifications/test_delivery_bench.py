"""The delivery benchmark's baseline, tiny: it renders and really sends every message it counts."""
from __future__ import annotations

import pytest

from bench.notifications_delivery import baseline
from ansinh.devplatform.mailbox import Gateway, SmtpSink

pytestmark = pytest.mark.integration


async def test_the_baseline_sends_every_message_it_times():
    sink, gateway = SmtpSink().start(), Gateway().start()
    try:
        seconds = await baseline(30, ["email", "sms", "push"], sink.port, gateway.port)
    finally:
        gateway.stop()
        sink.stop()
    assert seconds > 0
    assert len(sink.received) == 10
    assert "5.500.000 ₫" in sink.received[0].body
    assert len(gateway.delivered("/sms")) == 10 and len(gateway.delivered("/push")) == 10
