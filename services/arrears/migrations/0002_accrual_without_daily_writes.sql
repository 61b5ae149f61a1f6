-- The nightly run no longer writes every open debt (a bare UPDATE of 1,000,000 rows alone takes longer than
-- the run's 10 s budget on the dev machine). Instead the ledger remembers what the last run SAW of each debt
-- (principal_seen, payment_lines.seen): interest charged so far is the closed form of the rule over what was
-- seen, so only debts that changed are written. Interest charged lives in interest_postings (per employer,
-- period, rule, run), which statements and metrics sum; the per-debt interest columns are gone.
ALTER TABLE debts ADD COLUMN principal_seen bigint NOT NULL DEFAULT 0;  -- principal as the last run saw it
ALTER TABLE payment_lines ADD COLUMN seen bigint NOT NULL DEFAULT 0;    -- amount as the last run saw it
DROP INDEX debts_to_accrue;
ALTER TABLE debts DROP COLUMN accrued_through, DROP COLUMN interest, DROP COLUMN interest_by_rule;
-- What a run reads: changed debts (recomputed from their first day late) and unpaid ones (charged new days).
CREATE INDEX debts_to_accrue ON debts (employer_code) WHERE changed OR principal > paid;
-- The run's first business day after the previous finished run (days from it on are new to this run).
ALTER TABLE accrual_runs ADD COLUMN previous_date date;
