-- Payments (bank side): pain.001 parts sent and their items, every status report received, retries due,
-- suspensions for non-collection, fraud flags. docs/payments.md "Bank and cash status" describes them.

-- One row per pain.001 document sent to a bank (a part of a run's batch for that bank, or of a retry batch).
CREATE TABLE bank_batches (
    message_id             text        PRIMARY KEY,          -- GrpHdr/MsgId, unique per bank and ever
    bank_bin               text        NOT NULL,
    run_period             date,                             -- NULL: a retry batch
    part                   integer     NOT NULL,
    parts                  integer     NOT NULL,
    number_of_transactions integer     NOT NULL,             -- as declared in the document
    control_sum            bigint      NOT NULL,
    created_at             timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX bank_batches_by_run ON bank_batches (run_period, bank_bin);

-- Which attempt of which payment each part carries: a group-level status applies to these.
CREATE TABLE bank_batch_items (
    message_id    text    NOT NULL REFERENCES bank_batches (message_id),
    end_to_end_id text    NOT NULL,
    payment_id    text    NOT NULL,
    attempt       integer NOT NULL,
    amount        bigint  NOT NULL,
    PRIMARY KEY (message_id, end_to_end_id)
);
CREATE INDEX bank_batch_items_by_payment ON bank_batch_items (payment_id);

-- Every status a bank or a paying office reported, and what it did (changed, duplicate, late, pending):
-- the history behind a payment's state, the rejection rate by bank and reason, the reconciliation.
CREATE TABLE status_reports (
    id            bigserial   PRIMARY KEY,
    payment_id    text        NOT NULL,
    attempt       integer     NOT NULL,
    source        text        NOT NULL CHECK (source IN ('bank', 'cash')),
    reporter      text        NOT NULL,            -- bank BIN or paying office
    message_id    text,                            -- the pain.001 MsgId answered (bank)
    status        text        NOT NULL,            -- ISO code (ACTC, ACSC, RJCT...) or paid / unclaimed
    reason_code   text,
    outcome       text        NOT NULL CHECK (outcome IN ('changed', 'duplicate', 'late', 'pending')),
    state_after   text        NOT NULL,
    event_id      uuid        NOT NULL,
    received_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX status_reports_by_payment ON status_reports (payment_id, id);
CREATE INDEX status_reports_by_time ON status_reports (received_at);

-- Rejected transfers waiting for their next attempt (a new EndToEndId, see domain/states.py).
CREATE TABLE retries_due (
    payment_id   text        PRIMARY KEY,
    next_attempt integer     NOT NULL,
    due_at       timestamptz NOT NULL,
    reason_code  text
);
CREATE INDEX retries_due_by_time ON retries_due (due_at);

-- Beneficiaries suspended by the 6-month rule, once per starting period.
CREATE TABLE non_collection_suspensions (
    beneficiary_code text        NOT NULL,
    from_period      date        NOT NULL,
    periods          date[]      NOT NULL,
    suspended_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (beneficiary_code, from_period)
);

-- Fraud signals for review: one row per signal and subject (a payment, or an account for shared accounts).
CREATE TABLE flags (
    id               bigserial   PRIMARY KEY,
    signal           text        NOT NULL CHECK (signal IN ('shared_account', 'deceased_beneficiary',
                                                            'dormant_cash_collected',
                                                            'account_changed_before_large')),
    subject          text        NOT NULL,           -- payment_id, or a digest of the shared account
    beneficiary_code text        NOT NULL,
    payment_id       text,
    award_id         text,
    period           date,
    amount           bigint,
    detail           text        NOT NULL,
    flagged_at       timestamptz NOT NULL DEFAULT now(),
    reviewed_by      text,
    reviewed_at      timestamptz,
    CONSTRAINT flags_once UNIQUE (signal, subject, beneficiary_code)
);
CREATE INDEX flags_open ON flags (flagged_at) WHERE reviewed_at IS NULL;
