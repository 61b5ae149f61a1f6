-- Operator actions (who, when, what, on what, why), written in the same transaction as the action.
CREATE TABLE audit_log (
    id        bigserial   PRIMARY KEY,
    at        timestamptz NOT NULL DEFAULT now(),
    principal text        NOT NULL,
    action    text        NOT NULL,
    subject   text        NOT NULL,
    reason    text        NOT NULL CHECK (length(reason) > 0),
    details   jsonb       NOT NULL DEFAULT '{}'
);
