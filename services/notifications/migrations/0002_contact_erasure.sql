-- A tombstone on participants.contacts erases a participant's contact details (the registry deleting personal
-- data). The row stays, emptied, with the tombstone's partition and offset: a record earlier on the topic
-- (a replay) must not bring the data back; a later one stores a contact again. docs/notifications.md#contacts.
ALTER TABLE contacts
    ADD COLUMN erased_at timestamptz,        -- set by a tombstone; NULL again when a later record arrives
    ALTER COLUMN language DROP NOT NULL,     -- NULL only while erased
    ALTER COLUMN occurred_at DROP NOT NULL;  -- a tombstone has no event time
ALTER TABLE contacts ADD CONSTRAINT contacts_erased_empty CHECK (erased_at IS NULL AND language IS NOT NULL
    OR erased_at IS NOT NULL AND phone IS NULL AND email IS NULL AND app_token IS NULL AND language IS NULL
       AND quiet_from IS NULL AND channels = '{}');

-- Pending notifications to a participant whose contact was erased are cancelled (never sent, never replayed:
-- replay takes failed and uncertain only), with last_error 'contact_erased' and the address removed.
ALTER TABLE notifications DROP CONSTRAINT notifications_state_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_state_check
    CHECK (state IN ('pending', 'sending', 'sent', 'failed', 'uncertain', 'cancelled'));
