-- Unidentified receipts (suspense), the bank of each payment, and auditable releases of paid money.

-- Every receipt is one row of `remittances`, keyed by its payment id (bank-qualified, see docs/collection.md):
-- one key for identified payments and unidentified receipts alike, so the same payment id can never be
-- both. A receipt in suspense has no employer yet.
ALTER TABLE remittances ALTER COLUMN employer_code DROP NOT NULL;
ALTER TABLE remittances ADD COLUMN bank_bin text;  -- NULL: the sender did not name its bank

-- Receipts no employer could be identified for, until an operator assigns them.
CREATE TABLE suspense (
    id            bigserial   PRIMARY KEY,          -- the handle an operator types
    payment_id    text        NOT NULL UNIQUE REFERENCES remittances (payment_id),
    reason        text        NOT NULL,             -- a code: no_reference, unknown_employer, ...
    detail        text,                             -- why, in words (never the remittance text)
    held_at       timestamptz NOT NULL DEFAULT now(),
    assigned_to   text,                             -- employer code
    assigned_by   text,                             -- principal (the audit log has the full record)
    assigned_at   timestamptz,
    CHECK ((assigned_to IS NULL) = (assigned_at IS NULL) AND (assigned_to IS NULL) = (assigned_by IS NULL))
);
CREATE INDEX suspense_open ON suspense (id) WHERE assigned_to IS NULL;

-- A downward revision that leaves more paid than owed gives money back to the payments that paid it:
-- a negative `released` row per payment, so that for every obligation paid = sum(allocations.amount)
-- and for every payment the allocations plus its credit lot add up to its amount.
ALTER TABLE allocations DROP CONSTRAINT allocations_amount_check;
ALTER TABLE allocations ADD COLUMN kind text NOT NULL DEFAULT 'allocated';
ALTER TABLE allocations ADD CONSTRAINT allocations_kind_sign
    CHECK ((kind = 'allocated' AND amount > 0) OR (kind = 'released' AND amount < 0));
CREATE INDEX allocations_by_obligation ON allocations (employer_code, period, fund, id);
