"""The accrual benchmark's own run, tiny: it seeds, runs one day and a catch-up, and prints the ratio lines."""
from __future__ import annotations

import argparse

from bench.arrears_accrual import main_async


async def test_the_accrual_benchmark_runs_end_to_end_on_a_few_debts(platform, capsys):
    await main_async(argparse.Namespace(count=500, chunks=2, keep=False))
    out = capsys.readouterr().out
    assert "seeded 500 open debts (100 employers)" in out
    assert [ln.split()[0] for ln in out.splitlines() if "ratio" in ln] == ["one", "30-day"]
    assert "100 events" in out
