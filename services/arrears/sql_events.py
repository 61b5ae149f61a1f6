"""Events written to the outbox by one SQL statement (the daily run emits them set-based, not in a Python loop).

``outbox_insert(select_sql)`` wraps a ``SELECT key, type, payload`` (one row per event, ``payload`` a jsonb
shaped like the message model) into an ``INSERT INTO outbox`` that builds the same envelope as
``ansinh.runtime.outbox.event`` (event id, type, schema version, occurred_at in UTC, producer, correlation id):
tests decode what it writes with the models (tests/integration/arrears/test_status.py).
"""
from __future__ import annotations

TOPIC = "arrears.events"
PRODUCER = "arrears"
# RFC 3339 in UTC with microseconds, as schemas.base.Timestamp accepts it.
_NOW = """to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""


def outbox_insert(schema: str, ctes: str, select_sql: str, correlation_param: str) -> str:
    """An INSERT of one outbox row per row of ``select_sql`` (columns ``key``, ``type``, ``payload``).

    ``ctes`` (``name AS (...), ...`` or empty) come first, at the top level, so they may be data-modifying
    (``UPDATE ... RETURNING``): PostgreSQL allows that only there. ``correlation_param`` is the placeholder
    (e.g. ``$2``) of the run's correlation id (uuid): every event of one run shares it. Returns ``type`` per
    row inserted, so the caller can count what went out.
    """
    prefix = f"{ctes}," if ctes.strip() else ""
    return f"""
        WITH {prefix}
        source AS ({select_sql}),
        built AS (SELECT gen_random_uuid() AS event_id, key, type, payload FROM source)
        INSERT INTO {schema}.outbox (event_id, topic, key, value, headers)
        SELECT event_id, '{TOPIC}', convert_to(key, 'UTF8'),
               convert_to(jsonb_build_object(
                   'event_id', event_id, 'type', type, 'schema_version', 1, 'occurred_at', {_NOW},
                   'producer', '{PRODUCER}', 'correlation_id', {correlation_param}::uuid, 'causation_id', NULL,
                   'payload', payload)::text, 'UTF8'),
               jsonb_build_object('type', type, 'correlation_id', {correlation_param}::text)
        FROM built
        RETURNING headers->>'type' AS type"""


def period_text(column: str) -> str:
    """A ``date`` column holding a month's first day, as the wire's ``YYYY-MM``."""
    return f"to_char({column}, 'YYYY-MM')"
