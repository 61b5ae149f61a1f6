-- Contribution collection: assessments per worker and month, obligations per employer, period and fund,
-- payments and their allocation, employers' credit.

-- The latest assessed revision of each (employer, worker, month): the worker's social insurance book.
CREATE TABLE assessments (
    employer_code     text        NOT NULL,
    worker_code       text        NOT NULL,
    period            date        NOT NULL,   -- first day of the contribution month
    revision          integer     NOT NULL,
    worker_name       text        NOT NULL,
    citizen_id        text        NOT NULL,
    funds             text[]      NOT NULL,
    declared_salary   bigint      NOT NULL,
    social_base       bigint      NOT NULL,
    unemployment_base bigint      NOT NULL,
    floor_applied     boolean     NOT NULL,
    cap_applied       boolean     NOT NULL,
    due_date          date        NOT NULL,
    lines             jsonb       NOT NULL,   -- [[fund, party, amount], ...]
    total             bigint      NOT NULL,
    updated_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (employer_code, worker_code, period)
);
CREATE INDEX assessments_by_worker ON assessments (worker_code, period);

-- What an employer owes and has paid, per month and fund (employer and employee parts together).
CREATE TABLE obligations (
    employer_code text    NOT NULL,
    period        date    NOT NULL,
    fund          text    NOT NULL,
    assessed      bigint  NOT NULL DEFAULT 0,
    paid          bigint  NOT NULL DEFAULT 0,
    due_date      date    NOT NULL,
    PRIMARY KEY (employer_code, period, fund),
    CHECK (paid >= 0 AND paid <= greatest(assessed, 0))
);
CREATE INDEX obligations_open ON obligations (employer_code) WHERE assessed > paid;

-- One row per employer that has ever paid or declared: the lock for allocation, and the credit balance.
CREATE TABLE employers (
    employer_code text        PRIMARY KEY,
    credit        bigint      NOT NULL DEFAULT 0 CHECK (credit >= 0),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- Unapplied money, by the payment (and value date) it came from.
CREATE TABLE credit_lots (
    employer_code text   NOT NULL,
    payment_id    text   NOT NULL,
    value_date    date   NOT NULL,
    remaining     bigint NOT NULL CHECK (remaining >= 0),
    PRIMARY KEY (employer_code, payment_id)
);

-- Every payment once: the same payment id reported twice is one payment.
CREATE TABLE remittances (
    payment_id     text        PRIMARY KEY,
    employer_code  text        NOT NULL,
    amount         bigint      NOT NULL CHECK (amount > 0),
    value_date     date        NOT NULL,
    bank_reference text        NOT NULL,
    received_at    timestamptz NOT NULL DEFAULT now()
);

-- Where each payment's money went (a payment can be allocated in several steps, via credit).
CREATE TABLE allocations (
    id            bigserial   PRIMARY KEY,
    payment_id    text        NOT NULL,
    employer_code text        NOT NULL,
    period        date        NOT NULL,
    fund          text        NOT NULL,
    amount        bigint      NOT NULL CHECK (amount > 0),
    value_date    date        NOT NULL,
    allocated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX allocations_by_employer ON allocations (employer_code, period);

-- Findings for inspectors (under-declaration below the regional minimum wage).
CREATE TABLE compliance_flags (
    employer_code   text        NOT NULL,
    worker_code     text        NOT NULL,
    period          date        NOT NULL,
    revision        integer     NOT NULL,
    kind            text        NOT NULL,
    declared_salary bigint      NOT NULL,
    floor           bigint      NOT NULL,
    flagged_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (employer_code, worker_code, period, revision, kind)
);
