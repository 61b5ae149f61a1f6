-- Payments (core): entitlements from benefits.awards, monthly runs prepared then approved, one payment per
-- award and period. docs/payments.md describes every table. Helper-owned migrations 0050+ add the bank side
-- (batches, status history, cash follow-up, flags); they may widen the CHECK constraints named here.

-- Who has been reported deceased (BeneficiaryDeceased): nothing is paid for the month of death onwards.
CREATE TABLE beneficiaries (
    beneficiary_code text        PRIMARY KEY,
    deceased_on      date,
    reported_at      timestamptz,
    updated_at       timestamptz NOT NULL DEFAULT now()
);

-- One row per award, as the benefit decision system decided it (payments never recomputes an amount).
-- Status is effective-dated by period: `status` applies from `status_from`, `prior_status` before it
-- (runs are prepared for the current period, so two levels are enough; the history is in award_changes).
CREATE TABLE entitlements (
    award_id         text        PRIMARY KEY,
    beneficiary_code text        NOT NULL,
    beneficiary_name text        NOT NULL,
    citizen_id       text        NOT NULL,
    benefit_type     text        NOT NULL,
    amount           bigint      NOT NULL CONSTRAINT entitlements_amount_check CHECK (amount > 0),
    recurrence       text        NOT NULL CONSTRAINT entitlements_recurrence_check
                                 CHECK (recurrence IN ('monthly', 'one_off')),
    first_period     date        NOT NULL,   -- first day of the first month paid
    last_period      date,                   -- first day of the last month paid; NULL: until an event ends it
    status           text        NOT NULL DEFAULT 'active' CONSTRAINT entitlements_status_check
                                 CHECK (status IN ('active', 'suspended', 'terminated', 'deceased')),
    status_from      date        NOT NULL,   -- first day of the first month `status` applies to
    prior_status     text        NOT NULL DEFAULT 'active' CONSTRAINT entitlements_prior_status_check
                                 CHECK (prior_status IN ('active', 'suspended', 'terminated', 'deceased')),
    -- The channel in force from channel_from (earlier channels: channel_changes).
    channel          text        NOT NULL CONSTRAINT entitlements_channel_check CHECK (channel IN ('bank', 'cash')),
    bank_bin         text,
    account_number   text,
    account_name     text,
    paying_office    text,
    home_delivery    boolean     NOT NULL DEFAULT false,
    channel_from     date        NOT NULL,
    channel_changed_at timestamptz NOT NULL DEFAULT now(),
    awarded_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT entitlements_channel_fields CHECK (
        (channel = 'bank' AND bank_bin IS NOT NULL AND account_number IS NOT NULL AND account_name IS NOT NULL)
        OR (channel = 'cash' AND paying_office IS NOT NULL))
);
CREATE INDEX entitlements_by_beneficiary ON entitlements (beneficiary_code);

-- Every channel an award has had, from which period (the award's first channel included): the run reads
-- it for a period before the current channel's channel_from; fraud signals read changed_at.
CREATE TABLE channel_changes (
    award_id       text        NOT NULL REFERENCES entitlements (award_id),
    from_period    date        NOT NULL,
    changed_at     timestamptz NOT NULL DEFAULT now(),
    channel        text        NOT NULL CHECK (channel IN ('bank', 'cash')),
    bank_bin       text,
    account_number text,
    account_name   text,
    paying_office  text,
    home_delivery  boolean     NOT NULL DEFAULT false,
    event_id       uuid        NOT NULL,
    PRIMARY KEY (award_id, from_period, changed_at)
);

-- What happened to each award (awarded, suspended, resumed, terminated, channel changed, deceased), for
-- the operator and the run's "changes from last month".
CREATE TABLE award_changes (
    id          bigserial   PRIMARY KEY,
    award_id    text        NOT NULL,
    kind        text        NOT NULL,
    from_period date,
    event_id    uuid        NOT NULL,
    at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX award_changes_by_award ON award_changes (award_id, id);

-- A payment run: one per period. preparing -> prepared -> approved -> sending -> sent.
CREATE TABLE runs (
    period          date        PRIMARY KEY,   -- first day of the month paid
    state           text        NOT NULL DEFAULT 'preparing' CONSTRAINT runs_state_check
                                CHECK (state IN ('preparing', 'prepared', 'approved', 'sending', 'sent')),
    correlation_id  uuid        NOT NULL,      -- shared by every event of the run
    preparers       text[]      NOT NULL DEFAULT '{}',  -- everyone who prepared it (none of them may approve)
    prepared_by     text,
    prepared_at     timestamptz,
    approved_by     text,
    approved_at     timestamptz,
    execution_date  date,                      -- bank transfers' requested execution date
    prepare_cursor  text,                      -- last award_id a preparation chunk covered (resume point)
    entitlements    bigint      NOT NULL DEFAULT 0,  -- entitlements examined so far (progress of preparing)
    total_payments  bigint      NOT NULL DEFAULT 0,
    total_amount    bigint      NOT NULL DEFAULT 0,
    send_cursor     bigint      NOT NULL DEFAULT 0,  -- last payments.id sent (resume point of sending)
    sent_payments   bigint      NOT NULL DEFAULT 0,
    summary         jsonb,                     -- totals by channel, bank, benefit type (at preparation)
    started_at      timestamptz NOT NULL DEFAULT now(),
    sending_started_at timestamptz,
    finished_at     timestamptz
);

-- Exactly one payment per award and period, ever: the unique key below is the promise. A one-off award's
-- period is its first_period, whichever run pays it. payment_id is also the ISO 20022 EndToEndId.
CREATE TABLE payments (
    id               bigserial   PRIMARY KEY,
    payment_id       text        GENERATED ALWAYS AS ('PMT' || id::text) STORED,
    award_id         text        NOT NULL,
    period           date        NOT NULL,
    run_period       date        NOT NULL REFERENCES runs (period),
    beneficiary_code text        NOT NULL,
    beneficiary_name text        NOT NULL,
    citizen_id       text        NOT NULL,
    benefit_type     text        NOT NULL,
    amount           bigint      NOT NULL CONSTRAINT payments_amount_check CHECK (amount > 0),
    channel          text        NOT NULL CONSTRAINT payments_channel_check CHECK (channel IN ('bank', 'cash')),
    bank_bin         text,
    account_number   text,
    account_name     text,
    paying_office    text,
    home_delivery    boolean     NOT NULL DEFAULT false,
    state            text        NOT NULL DEFAULT 'created' CONSTRAINT payments_state_check
                                 CHECK (state IN ('created', 'approved', 'sent', 'accepted', 'settled', 'rejected',
                                                  'rerouted', 'returned', 'paid', 'unclaimed', 'stopped')),
    attempt          integer     NOT NULL DEFAULT 1,
    reason_code      text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    sent_at          timestamptz,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT payments_once UNIQUE (award_id, period),
    CONSTRAINT payments_payment_id UNIQUE (payment_id)
) WITH (fillfactor = 80);  -- room for in-place (HOT) updates: every payment changes state several times
CREATE INDEX payments_by_run ON payments (run_period, id);
CREATE INDEX payments_by_beneficiary ON payments (beneficiary_code, period);
