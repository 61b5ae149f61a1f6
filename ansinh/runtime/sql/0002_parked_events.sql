-- Events a service consumes before it has a handler for them (service skeletons): kept whole, so the
-- implementation can replay them; nothing consumed is ever dropped.
CREATE TABLE parked_events (
    event_id    uuid        PRIMARY KEY,
    topic       text        NOT NULL,
    type        text        NOT NULL,
    envelope    jsonb       NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);
