-- Notifications: participants' contacts, what they are told (one row per event, participant and channel),
-- and the little state the triggers need (awards for their beneficiary, monthly contribution digests).
-- Migrations 0001-0049 belong to the core (contacts, triggers, rendering); 0050-0099 to delivery.

-- The latest contact details per participant (participants.contacts is compacted: on a replay, an older value
-- must not overwrite a newer one, so the source event's time and offset are kept and compared).
CREATE TABLE contacts (
    participant_code text        PRIMARY KEY,
    phone            text,
    email            text,
    app_token        text,
    language         text        NOT NULL CHECK (language IN ('vi', 'en')),
    channels         text[]      NOT NULL,   -- as the participant chose them ('{}': no choice made)
    quiet_from       time,                   -- SMS quiet hours, Asia/Ho_Chi_Minh (both or neither)
    quiet_until      time,
    event_id         uuid        NOT NULL,
    occurred_at      timestamptz NOT NULL,   -- the ContactDetailsChanged event's time
    source_partition integer     NOT NULL,
    source_offset    bigint      NOT NULL,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CHECK ((quiet_from IS NULL) = (quiet_until IS NULL))
);

-- One message to one participant on one channel. The unique key makes a trigger idempotent whatever the
-- redeliveries: (triggering event id, participant, channel). Digests use a derived event id (see docs).
CREATE TABLE notifications (
    id               bigserial   PRIMARY KEY,
    event_id         uuid        NOT NULL,
    participant_code text        NOT NULL,
    channel          text        NOT NULL CHECK (channel IN ('email', 'sms', 'push')),
    type             text        NOT NULL,   -- message type, e.g. payment_sent (docs/notifications.md)
    language         text        NOT NULL CHECK (language IN ('vi', 'en')),
    recipient        text        NOT NULL,   -- address when created: e-mail, E.164 phone or app token
    subject          text,                   -- e-mail subject / push title; NULL for SMS
    body             text        NOT NULL,   -- rendered, personal identifiers masked
    state            text        NOT NULL DEFAULT 'pending'
                     CHECK (state IN ('pending', 'sending', 'sent', 'failed', 'uncertain')),
    attempts         integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    created_at       timestamptz NOT NULL DEFAULT now(),
    triggered_at     timestamptz NOT NULL,   -- the triggering event's occurred_at (delivery latency)
    UNIQUE (event_id, participant_code, channel)
);
-- The dispatcher's queue: what is due next.
CREATE INDEX notifications_due ON notifications (next_attempt_at) WHERE state = 'pending';
-- A participant's history, newest first.
CREATE INDEX notifications_by_participant ON notifications (participant_code, created_at DESC);

-- Awards seen on benefits.awards: BenefitSuspended/BenefitTerminated name only the award, so its beneficiary
-- and benefit type come from here. Only the account's last 4 digits are kept (masked in messages anyway).
CREATE TABLE awards (
    award_id         text        PRIMARY KEY,
    beneficiary_code text        NOT NULL,
    benefit_type     text        NOT NULL,
    account_last4    text,
    updated_at       timestamptz NOT NULL DEFAULT now()
);

-- Monthly contribution digests: one per worker and period, emitted by the sweep once due_at has passed.
CREATE TABLE digests (
    worker_code   text        NOT NULL,
    period        text        NOT NULL,   -- YYYY-MM
    triggered_at  timestamptz NOT NULL,   -- occurred_at of the first assessment seen
    due_at        timestamptz NOT NULL,
    emitted_at    timestamptz,
    PRIMARY KEY (worker_code, period)
);
CREATE INDEX digests_due ON digests (due_at) WHERE emitted_at IS NULL;

-- The latest assessed revision per employer of a digest (a worker may have two employers in a month).
CREATE TABLE digest_parts (
    worker_code     text    NOT NULL,
    period          text    NOT NULL,
    employer_code   text    NOT NULL,
    revision        integer NOT NULL,
    declared_salary bigint  NOT NULL,
    employee_amount bigint  NOT NULL,
    employer_amount bigint  NOT NULL,
    PRIMARY KEY (worker_code, period, employer_code),
    FOREIGN KEY (worker_code, period) REFERENCES digests (worker_code, period)
);
