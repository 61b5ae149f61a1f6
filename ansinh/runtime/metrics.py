"""Metrics of the shared runtime (every service exports them, labelled by service).

Each service declares its own business metrics once, in its own ``metrics`` module.
"""
from prometheus_client import Counter, Gauge, Histogram

# Messages routed to a dead-letter topic, by source topic, error class and stage (decode, prepare, transaction).
DLQ_MESSAGES = Counter("ansinh_dlq_messages_total", "Messages sent to a dead-letter topic",
                       ["service", "topic", "error_class", "stage"])
# Messages a consumer took in from its topic (before decoding): "messages in"; processed + dead_lettered
# catch up with it once the batch is settled.
RECEIVED = Counter("ansinh_received_messages_total", "Messages received from a consumed topic",
                   ["service", "topic"])
# Messages a consumer settled, by outcome (processed, dead_lettered).
CONSUMED = Counter("ansinh_consumed_messages_total", "Messages consumed, by outcome",
                   ["service", "topic", "outcome"])
# Time to handle one batch of messages (decode, transaction, outbox).
BATCH_SECONDS = Histogram("ansinh_handler_batch_seconds", "Seconds to handle one consumed batch",
                          ["service", "topic"],
                          buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
# Retries of the one retry policy (ansinh.runtime.retry): transient faults, and holds on a bug of ours.
RETRIES = Counter("ansinh_retries_total", "Operations retried after a transient failure (or held on our bug)",
                  ["service", "operation", "error_class"])
# 1 while a consumer holds its partitions on an error of ours (SQLSTATE 42...): fix and redeploy.
HELD = Gauge("ansinh_consumer_held", "1 while a consumer holds on a bug of ours", ["service", "topic"])
# Messages whose transaction failed alone and were dead-lettered since the consumer last committed one
# (it holds past ANSINH_DEAD_LETTER_LIMIT: a broken deploy, not broken data).
DEAD_LETTERS_IN_A_ROW = Gauge("ansinh_dead_letters_in_a_row", "Transaction dead letters since the last commit",
                              ["service", "topic"])
# Batches split in two to find the message that makes their transaction fail.
BISECTIONS = Counter("ansinh_batch_bisections_total", "Batches split to isolate a failing message",
                     ["service", "topic"])
# Outbox events published to Kafka by the relay.
OUTBOX_PUBLISHED = Counter("ansinh_outbox_published_total", "Outbox events published", ["service", "topic"])
# Outbox events committed but not yet published (refreshed by the relay).
OUTBOX_PENDING = Gauge("ansinh_outbox_pending", "Outbox events waiting to be published", ["service"])
# Seconds from an event's commit to its publication.
OUTBOX_LAG = Histogram("ansinh_outbox_publish_lag_seconds", "Seconds from outbox commit to publish",
                       ["service"], buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))
# 1 while this process holds its schema's relay lock (the one relay that publishes); 0 while it waits.
RELAY_ACTIVE = Gauge("ansinh_outbox_relay_active", "1 while this process is the schema's publishing relay",
                     ["service"])
# Times a relay lost its database session, and its lock with it, and stopped publishing to re-acquire.
RELAY_LOCK_LOST = Counter("ansinh_outbox_relay_lock_lost_total", "Relay locks lost with their database session",
                          ["service"])
# Inbox and published outbox rows deleted after the retention (ansinh.runtime.prune), by table.
PRUNED = Counter("ansinh_pruned_rows_total", "Rows pruned after the retention", ["service", "table"])
# Consumer lag in messages, per topic (high watermark minus committed position).
CONSUMER_LAG = Gauge("ansinh_consumer_lag_messages", "Messages not yet consumed", ["service", "topic"])
# 1 when the service is ready (database and Kafka reachable, migrations applied).
READY = Gauge("ansinh_ready", "1 when the service is ready", ["service"])
# Connections of the service's asyncpg pool, by state (in_use, idle); refreshed on every scrape of /metrics.
DB_POOL_CONNECTIONS = Gauge("ansinh_db_pool_connections", "Database pool connections, by state",
                            ["service", "state"])
# The pool's ceiling (ANSINH_POOL_SIZE): in_use at this value means handlers wait for a connection.
DB_POOL_MAX = Gauge("ansinh_db_pool_max_connections", "Database pool size limit", ["service"])
