-- Arrears operations: what was already announced per employer and period (so each status event goes out
-- once), which workers each employer declared for each month (so workers are told about unpaid months once),
-- and the log of daily runs (scheduler catch-up, metrics and the "run did not finish" alert).

-- One row per employer and period the daily run has looked at; a date column is set once, by the run that
-- emitted the event, and never cleared (each event is sent once).
CREATE TABLE period_status (
    employer_code         text    NOT NULL,
    period                date    NOT NULL,   -- first day of the contribution month
    due_date              date    NOT NULL,
    overdue_on            date,               -- business date EmployerOverdue was emitted
    cleared_on            date,               -- business date ArrearsCleared was emitted
    evasion_unpaid_on     date,               -- EvasionSuspected(unpaid_60_days)
    evasion_declared_on   date,               -- EvasionSuspected(under_declaration)
    PRIMARY KEY (employer_code, period)
);
-- Periods announced overdue and not yet cleared: what ArrearsCleared looks at every day.
CREATE INDEX period_status_open ON period_status (employer_code, period)
    WHERE overdue_on IS NOT NULL AND cleared_on IS NULL;

-- Workers declared by an employer for a month, from collection.assessments (consumer "arrears-workers").
-- revision: the highest revision seen (assessed or adjusted); flagged_revision: the highest revision flagged
-- as under-declared. A flag is unresolved while flagged_revision >= revision (a later, unflagged revision
-- corrected it). Both only grow (GREATEST), so the order the events arrive in does not matter.
CREATE TABLE declared_workers (
    employer_code    text    NOT NULL,
    period           date    NOT NULL,
    worker_code      text    NOT NULL,
    revision         integer NOT NULL DEFAULT -1,   -- -1: only a flag seen so far
    flagged_revision integer,
    notified_on      date,                          -- business date WorkerContributionsUnpaid named this month
    PRIMARY KEY (employer_code, period, worker_code)
);
CREATE INDEX declared_workers_flagged ON declared_workers (employer_code, period)
    WHERE flagged_revision IS NOT NULL;

-- One row per business date a daily run (accrual + status detection + workers' notices) was done for.
CREATE TABLE runs (
    business_date   date        PRIMARY KEY,
    trigger         text        NOT NULL,          -- scheduler, http (operator), cli
    started_at      timestamptz NOT NULL,
    finished_at     timestamptz NOT NULL DEFAULT now(),
    accrual_rows    bigint      NOT NULL DEFAULT 0,
    status_events   integer     NOT NULL DEFAULT 0,
    worker_notices  integer     NOT NULL DEFAULT 0,
    runs            integer     NOT NULL DEFAULT 1  -- how many times this date was run (reruns are idempotent)
);
