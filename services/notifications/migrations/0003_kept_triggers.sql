-- Triggers for a participant with no usable contact yet, kept for a bounded time (ANSINH_KEEP_TRIGGERS_S, 7 days
-- by default) and told when a contact arrives (docs/notifications.md, "Kept until the contact arrives").
CREATE TABLE kept_triggers (
    event_id         uuid        NOT NULL,   -- the triggering event (or a digest's derived id)
    participant_code text        NOT NULL,   -- who is to be told (an award's beneficiary when it was known)
    message_type     text        NOT NULL,
    triggered_at     timestamptz NOT NULL,
    award_id         text,
    inputs           jsonb       NOT NULL,   -- what the templates need, as the trigger carried it (masked)
    kept_until       timestamptz NOT NULL,
    PRIMARY KEY (event_id, participant_code)
);
CREATE INDEX kept_triggers_by_participant ON kept_triggers (participant_code);
CREATE INDEX kept_triggers_expiry ON kept_triggers (kept_until);
