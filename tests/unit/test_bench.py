"""The benchmark's own parts: the seeded workload, the profile summary and kcat's line format."""
from __future__ import annotations

from pathlib import Path

import pytest

from ansinh.runtime.decoding import Decoder
from ansinh.runtime.dlq import RawMessage
from bench import broker
from bench.profile import summarise
from bench.workload import DECLARATIONS, REMITTANCES, generate
from schemas.collection import SalaryDeclared
from schemas.topics import spec
from services.collection.domain.law import load_law
from services.collection.domain.model import Period


@pytest.fixture(scope="module")
def work():
    return generate(6000, seed=11)


@pytest.fixture(scope="module")
def decoded(work):
    decoders = {t: Decoder(spec(t).messages) for t in (DECLARATIONS, REMITTANCES)}
    return [(topic, decoders[topic].decode(RawMessage(topic, 0, i, key, value)).message)
            for i, (topic, key, value) in enumerate(work.messages)]


def test_the_same_seed_gives_the_same_bytes_and_another_seed_does_not(work):
    assert generate(6000, seed=11).messages == work.messages
    assert generate(6000, seed=12).messages != work.messages


def test_every_message_decodes_as_its_topic_expects(work, decoded):
    assert len(decoded) == len(work.messages)
    assert sum(isinstance(m, SalaryDeclared) for _, m in decoded) == work.declarations == 6000
    assert sum(t == REMITTANCES for t, _ in decoded) == work.remittances > 0


def test_floors_caps_revisions_and_several_periods_are_all_in_the_workload(work, decoded):
    declarations = [m for _, m in decoded if isinstance(m, SalaryDeclared)]
    assert {m.period for m in declarations} == {"2025-06", "2025-07", "2025-08"}
    assert work.revisions == sum(m.revision > 0 for m in declarations) == 180  # 3%
    assert 0.04 < work.below_floor / work.declarations < 0.08
    assert 0.03 < work.above_cap / work.declarations < 0.07


def test_the_expected_events_are_one_per_declaration_plus_one_per_declaration_below_the_floor(work, decoded):
    law = load_law()
    below = sum(m.contribution_salary < law.minimum_wage_on(Period.parse(m.period).first_day, m.region)
                for _, m in decoded if isinstance(m, SalaryDeclared))
    assert work.assessment_events == work.declarations + below


def test_each_correction_comes_after_the_declaration_it_corrects(decoded):
    seen = set()
    for _, m in decoded:
        if isinstance(m, SalaryDeclared):
            key = (m.employer_code, m.worker_code, m.period)
            assert m.revision == 0 or key in seen, f"revision {m.revision} of {key} before the original"
            seen.add(key)


def test_a_payment_is_published_in_a_later_phase_than_the_month_it_pays(work, decoded):
    phase_of_month = {}
    phase = 0
    for i, (_, m) in enumerate(decoded):
        while i >= work.ends[phase]:
            phase += 1
        if isinstance(m, SalaryDeclared) and m.revision == 0:
            phase_of_month.setdefault(m.period, set()).add(phase)
        elif not isinstance(m, SalaryDeclared):
            month = m.payment_id.split("-", 1)[1].rsplit("-", 1)[0]
            assert phase > max(phase_of_month[month]), f"payment for {month} in phase {phase}"
    assert work.events_by[-1] == work.assessment_events and work.ends[-1] == len(work.messages)


def test_the_profile_summary_counts_self_and_inclusive_time_per_function(tmp_path: Path):
    raw = tmp_path / "raw"
    raw.write_text("main (services/collection/app.py:3);assess (services/collection/domain/assessment.py:9) 3\n"
                   "main (services/collection/app.py:3);uuid4 (uuid.py:723) 1\n"
                   "main (services/collection/app.py:3);epoll_pwait (libc.so.6) 4\n")
    summary = summarise(raw)
    assert summary.samples == 8
    assert summary.by_self[("assess", "services/collection/domain/assessment.py")] == 3
    assert summary.by_total[("main", "services/collection/app.py")] == 8
    assert summary.by_area["waiting in epoll (idle: database or broker)"] == 4
    assert "| 37.5 | `assess` |" in summary.markdown()


def test_kcat_refuses_a_value_its_line_format_cannot_carry():
    with pytest.raises(ValueError, match="newline"):
        broker.measure("127.0.0.1:1", "unused", [(b"k", b'{"a":\n1}')])


def test_the_cpu_a_measured_process_used_is_read_from_the_system_not_estimated():
    import subprocess
    import sys
    import time

    from bench.declarations import _cpu_seconds

    burner = subprocess.Popen([sys.executable, "-c", "import sys, time\nstart = time.process_time()\n"
                               "while time.process_time() - start < 0.3: pass\nsys.stdin.read()"],
                              stdin=subprocess.PIPE)
    try:
        deadline, used = time.monotonic() + 30, 0.0
        while used < 0.3 and time.monotonic() < deadline:
            used = _cpu_seconds([burner])
            time.sleep(0.05)  # polling the counter, not waiting instead of checking
        assert 0.3 <= used < 5, f"CPU seconds read for a process that burnt 0.3 s: {used}"
    finally:
        burner.stdin.close()
        burner.wait(10)
