"""The simulators speak the public contracts, and the same seed gives the same month."""
from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import pytest
import xmlschema

from schemas.benefits import (BeneficiaryDeceased, BenefitAwarded, BenefitSuspended, ContactDetailsChanged,
                              PaymentChannelChanged)
from schemas.collection import CreditNotificationReceived, RemittanceReceived, SalaryDeclared
from simulators import answers, law, payroll, registry
from simulators.population import build

CAMT054_XSD = Path(__file__).resolve().parents[3] / "services" / "collection" / "xsd" / "camt.054.001.08.xsd"
MODELS = {m.event_type: m for m in (SalaryDeclared, RemittanceReceived, CreditNotificationReceived, BenefitAwarded,
                                    ContactDetailsChanged, BenefitSuspended, BeneficiaryDeceased, PaymentChannelChanged)}


def two_months(seed: int):
    population = build(seed, employers=25, workers=600, beneficiaries=400)
    ledger, awards = payroll.Ledger(), registry.Registry()
    sent = payroll.declare(population, "2025-07", None, ledger, seed)
    sent += payroll.declare(population, "2025-08", "2025-07", ledger, seed)
    sent += payroll.pay(population, "2025-07", ledger, seed)
    sent += registry.open_awards(population, "2026-01", awards, seed)
    sent += registry.month_changes(population, "2026-02", awards, seed)
    return population, ledger, awards, sent


def test_the_same_seed_gives_the_same_messages_byte_for_byte_and_another_seed_does_not():
    assert [(s.topic, s.key, s.value) for s in two_months(11)[3]] == [(s.topic, s.key, s.value)
                                                                       for s in two_months(11)[3]]
    assert two_months(11)[3] != two_months(12)[3]


def test_every_valid_message_passes_its_contract_and_every_broken_row_is_refused():
    *_, sent = two_months(5)
    refused = 0
    for message in sent:
        envelope = json.loads(message.value)
        model = MODELS[envelope["type"]]
        try:
            model.model_validate_json(json.dumps(envelope["payload"]))
        except ValueError:
            refused += 1
            assert not message.valid, f"a valid {envelope['type']} was refused"
        else:
            assert message.valid, f"a broken {envelope['type']} passed the contract"
    assert refused == sum(not m.valid for m in sent) > 0


def test_codes_are_ascii_digits_of_the_right_length_and_names_keep_their_diacritics():
    population = build(3, employers=10, workers=300, beneficiaries=50)
    people = [*population.workers, *population.beneficiaries]
    assert all(p.code.isascii() and p.code.isdigit() and len(p.code) == 10 for p in people)
    assert len({p.code for p in people}) == len(people)
    assert all(p.citizen_id.isascii() and p.citizen_id.isdigit() and len(p.citizen_id) == 12 for p in people)
    assert any(not p.name.isascii() for p in people) and any("Nguyễn" in p.name for p in people)


def test_salaries_spread_below_the_floor_and_above_the_cap():
    population = build(8, employers=40, workers=3000, beneficiaries=0)
    floors = {1: 4_960_000, 2: 4_410_000, 3: 3_860_000, 4: 3_450_000}
    below = sum(w.salary < floors[e.region] for e in population.employers for w in e.workers)
    above = sum(w.salary > 46_800_000 for w in population.workers)
    assert 30 <= below <= 180 and 20 <= above <= 120


def test_every_camt054_document_is_valid_against_the_official_xsd_and_adds_up_to_the_ledger():
    _, ledger, _, sent = two_months(7)
    schema = xmlschema.XMLSchema(CAMT054_XSD)
    documents = [json.loads(s.value)["payload"]["document"] for s in sent
                 if json.loads(s.value)["type"] == "CreditNotificationReceived"]
    assert documents
    total = 0
    for document in documents:
        schema.validate(document)
        data = schema.to_dict(document)
        for entry in data["BkToCstmrDbtCdtNtfctn"]["Ntfctn"][0]["Ntry"]:
            total += int(entry["Amt"]["$"])
    by_camt = sum(p.amount for m in ledger.months.values() for p in m.payments if p.reported_as == "camt054")
    assert total == by_camt


def test_some_camt054_entries_are_batch_bookings_of_several_employers():
    population, ledger = build(7, employers=120, workers=1200, beneficiaries=0), payroll.Ledger()
    payroll.declare(population, "2025-07", None, ledger, 7)
    sent = payroll.pay(population, "2025-07", ledger, 7)
    documents = [json.loads(s.value)["payload"]["document"] for s in sent if b"CreditNotificationReceived" in s.value]
    assert any("<NbOfTxs>" in d for d in documents)


def test_the_employers_own_computation_follows_the_rates_floor_and_caps_by_hand():
    funds = ("sickness_maternity", "accident", "retirement", "health", "unemployment")
    # 10,000,000 in region I: 3% + 0.5% + (14% + 8%) + (3% + 1.5%) + (1% + 1%)
    assert law.owed(10_000_000, 1, funds, False, "2025-07") == {
        "sickness_maternity": 300_000, "accident": 50_000, "retirement": 2_200_000, "health": 450_000,
        "unemployment": 200_000}
    # below the region IV floor (3,450,000): assessed on the floor; 0.3% accident on the reduced rate
    assert law.owed(3_000_000, 4, funds, True, "2025-07")["accident"] == 10_350
    # 100 million: social and health capped at 46,800,000, unemployment at 20 x 4,960,000 = 99,200,000
    capped = law.owed(100_000_000, 1, funds, False, "2025-07")
    assert capped["retirement"] == 46_800_000 * 22 // 100 and capped["unemployment"] == 99_200_000 * 2 // 100


@pytest.mark.parametrize("period, due", [("2025-06", "2025-06-30"), ("2025-07", "2025-08-31"),
                                         ("2025-12", "2026-01-31"), ("2024-02", "2024-02-29")])
def test_the_due_date_follows_the_law_in_force_for_the_period(period, due):
    assert law.due_date(period).isoformat() == due


def test_a_problem_account_is_refused_on_every_attempt_while_a_passing_problem_may_settle_on_retry():
    rates = answers.Rates(account_problem=0.5, passing_problem=0.0)
    now = datetime.now(timezone.utc)
    for number in range(50):
        order = {"bank_bin": "970436", "account_number": str(10**9 + number), "end_to_end_id": f"P{number}"}
        first = answers.bank_answer(order, 1, rates, now)
        retry = answers.bank_answer({**order, "end_to_end_id": f"P{number}-R01"}, 1, rates, now)
        assert (first.status, first.reason_code) == (retry.status, retry.reason_code)
    outcomes = Counter(answers.bank_answer({"bank_bin": "970436", "account_number": "1", "end_to_end_id": f"E{i}"},
                                           2, answers.Rates(account_problem=0, passing_problem=0.5), now).status
                       for i in range(200))
    assert 60 < outcomes["RJCT"] < 140


def test_a_beneficiary_who_never_comes_leaves_every_month_unclaimed():
    rates = answers.Rates(never_collects=1.0)
    order = {"payment_id": "P1", "paying_office": "BD-HN-001", "beneficiary_code": "1234567890",
             "pay_from": "2026-01-11", "pay_until": "2026-01-25"}
    assert {answers.cash_answer({**order, "payment_id": f"P{m}"}, 1, rates).outcome for m in range(6)} == {"unclaimed"}
    paid = answers.cash_answer(order, 1, answers.Rates(never_collects=0, misses_a_month=0))
    assert paid.outcome == "paid" and "2026-01-11" <= paid.paid_at.date().isoformat() <= "2026-01-25"


def test_the_registry_pays_no_one_after_death_or_suspension_and_one_offs_once():
    population, _, awards, _ = two_months(9)
    stopped = {a.award_id for a in awards.awards.values() if a.stopped_from == "2026-02"}
    one_offs = {a.award_id for a in awards.awards.values() if a.recurrence == "one_off"}
    assert stopped and one_offs
    february = registry.expected_payments(awards, "2026-02")
    assert not (stopped | one_offs) & set(february)
    assert one_offs <= set(registry.expected_payments(awards, "2026-01"))


def test_two_runs_with_the_same_seed_but_another_prefix_share_no_event_id_or_bank_reference():
    def ids(prefix):
        population, ledger = build(4, employers=30, workers=300, beneficiaries=20, prefix=prefix), payroll.Ledger()
        sent = payroll.declare(population, "2025-07", None, ledger, 4) + payroll.pay(population, "2025-07", ledger, 4)
        sent += registry.open_awards(population, "2026-01", registry.Registry(), 4)
        envelopes = [json.loads(s.value) for s in sent]
        return ({e["event_id"] for e in envelopes},
                {e["payload"].get("bank_reference") for e in envelopes} - {None})
    first, second = ids("RUNA"), ids("RUNB")
    assert not first[0] & second[0] and not first[1] & second[1]
    assert ids("RUNA") == first


def test_most_workers_have_contact_details_the_registry_accepts_with_at_least_one_channel():
    population = build(6, employers=10, workers=400, beneficiaries=0)
    sent, contacts = registry.worker_contacts(population, 6, datetime(2026, 1, 1, tzinfo=timezone.utc))
    assert 200 < len(sent) < 360 and len(contacts) == len(sent)
    for message in sent:
        contact = ContactDetailsChanged.model_validate_json(json.dumps(json.loads(message.value)["payload"]))
        assert contact.channels and contact.participant_code == message.key.decode()
