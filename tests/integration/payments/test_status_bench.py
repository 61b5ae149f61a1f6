"""The status benchmark runs end to end on a tiny count (its figures are not checked here, its working is)."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def test_the_status_benchmark_applies_every_status_and_prints_both_rates(platform):
    out = subprocess.run([sys.executable, "-m", "bench.payments_status", "--count", "500", "--reject-every", "10"],
                         capture_output=True, text=True, timeout=300, check=True,
                         cwd=Path(__file__).resolve().parents[3]).stdout
    assert re.search(r"^400 bank transfers in \d+ pain\.002 documents", out, re.M), out
    assert "'settled': 360" in out and "'returned': 40" in out, out
    assert re.search(r"^system .* statuses/s", out, re.M) and re.search(r"system / baseline: [0-9.]+x", out), out
