"""bench/payments_run.py runs end to end on a tiny count (the real run is 1 million; see docs/payments.md)."""
import re
import subprocess
import sys

import pytest

from ansinh.runtime.settings import REPO_ROOT

pytestmark = pytest.mark.timeout(300)


def test_the_payment_run_benchmark_reports_orders_per_second_beside_both_baselines(platform):
    done = subprocess.run([sys.executable, "-m", "bench.payments_run", "--count", "500", "--chunk", "500"],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=280)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert re.search(r"system .* for 500 orders: [0-9,]+ orders/s", out), out
    # 500 orders + 500 PaymentSent + the prepared/approved events + one pain.001 batch per bank (three banks, one chunk)
    assert re.search(r"1,005 events", out), out
    assert re.search(r"baseline INSERT \.\.\. SELECT .* for 500 rows", out), out
    assert re.search(r"baseline produce .* for 1,005 records", out), out
