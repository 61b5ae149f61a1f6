-- Arrears ledger (core): what each employer owes per period and fund, what it paid and on which value date,
-- and the late-payment interest accrued on it. Fed by collection.assessments and collection.allocations;
-- nothing is read from collection's tables. See docs/arrears.md ("Data").

-- One row per employer, contribution month and fund: a "debt". Principal is the sum of the assessed amounts
-- and adjustments (up and down, both parties); paid is the sum of the allocation lines. An allocation may
-- arrive before its assessment: the row then exists with due_date NULL and principal 0 until it does.
CREATE TABLE debts (
    employer_code    text        NOT NULL,
    period           date        NOT NULL,            -- first day of the contribution month
    fund             text        NOT NULL,
    due_date         date,                            -- from arrears' own law tables; NULL until assessed
    principal        bigint      NOT NULL DEFAULT 0,  -- assessed + adjustments (may dip below 0 transiently)
    paid             bigint      NOT NULL DEFAULT 0 CHECK (paid >= 0),
    last_value_date  date,                            -- latest value date of any payment line
    -- Principal or payments changed since the last accrual run looked at this debt: the run recomputes it
    -- from its first day late (a backdated payment or a revision then yields an InterestCorrected).
    changed          boolean     NOT NULL DEFAULT true,
    accrued_through  date,                            -- interest below covers the days up to this one
    interest         bigint      NOT NULL DEFAULT 0 CHECK (interest >= 0),  -- total accrued, all rules
    interest_by_rule jsonb       NOT NULL DEFAULT '{}'::jsonb,               -- {"<rule id>": amount}
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (employer_code, period, fund)
);
-- The debts a run must look at: changed, still unpaid, or paid by a value date it has not reached yet.
-- The run's WHERE repeats this predicate (repository.TO_ACCRUE) so the planner can use the index.
CREATE INDEX debts_to_accrue ON debts (employer_code)
    WHERE changed OR principal > paid OR last_value_date > coalesce(accrued_through, '-infinity'::date);

-- Payment lines, summed per value date: a payment on value date d reduces the unpaid principal from day d on.
CREATE TABLE payment_lines (
    employer_code text   NOT NULL,
    period        date   NOT NULL,
    fund          text   NOT NULL,
    value_date    date   NOT NULL,
    amount        bigint NOT NULL CHECK (amount >= 0),
    PRIMARY KEY (employer_code, period, fund, value_date)
);

-- One row per business date the accrual run was asked for. A run is split into chunks (employers by hash),
-- each one transaction; finished_at is set when every chunk is done.
CREATE TABLE accrual_runs (
    business_date date        PRIMARY KEY,
    run_id        uuid        NOT NULL,               -- correlation id of the run's events
    chunks        integer     NOT NULL CHECK (chunks > 0),
    started_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz
);

CREATE TABLE accrual_chunks (
    business_date date        NOT NULL REFERENCES accrual_runs,
    chunk         integer     NOT NULL,
    debts         bigint      NOT NULL,               -- debts recomputed
    employers     bigint      NOT NULL,               -- employers with an event
    assessed      bigint      NOT NULL,               -- interest of days accrued for the first time
    corrected     bigint      NOT NULL,               -- signed change of days accrued before
    done_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (business_date, chunk)
);

-- What each run charged (kind 'assessed') or corrected (kind 'corrected', signed), per employer, period and
-- rule segment: the content of the InterestAssessed / InterestCorrected events, kept for statements.
CREATE TABLE interest_postings (
    business_date date   NOT NULL,
    employer_code text   NOT NULL,
    period        date   NOT NULL,
    kind          text   NOT NULL CHECK (kind IN ('assessed', 'corrected')),
    rule_id       text   NOT NULL,
    from_day      date   NOT NULL,
    to_day        date   NOT NULL,
    amount        bigint NOT NULL,
    PRIMARY KEY (business_date, employer_code, period, kind, rule_id)
);
CREATE INDEX interest_postings_by_employer ON interest_postings (employer_code, business_date);
