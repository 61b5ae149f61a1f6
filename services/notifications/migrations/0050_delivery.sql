-- Delivery's bookkeeping on the notifications table (0001): what the last attempt said, when it was sent or
-- given up, and operator replays. Migrations 0050-0099 belong to delivery (docs/notifications.md#delivery).
ALTER TABLE notifications
    ADD COLUMN last_error text,          -- the last failure's code (smtp_451, http_503, timeout): never content
    ADD COLUMN sending_at timestamptz,   -- when the last attempt was marked sending (committed before the call)
    ADD COLUMN sent_at    timestamptz,
    ADD COLUMN failed_at  timestamptz,
    ADD COLUMN replays    integer NOT NULL DEFAULT 0 CHECK (replays >= 0);  -- part of the gateway's key

-- The dispatcher claims each channel's due rows in due order (the rate limit is per channel).
CREATE INDEX notifications_due_by_channel ON notifications (channel, next_attempt_at) WHERE state = 'pending';
-- The operators' list: notifications given up (failed) or that may have gone twice (uncertain).
CREATE INDEX notifications_to_review ON notifications (id) WHERE state IN ('failed', 'uncertain');
