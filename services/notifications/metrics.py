"""Notifications' Prometheus metrics, each declared once here."""
from prometheus_client import Counter, Gauge, Histogram

# --- Delivery (services/notifications/delivery) ---
# Messages the SMTP server or the gateway accepted, by channel and message type.
SENT = Counter("notifications_sent_total", "Notifications sent", ["channel", "type"])
# Messages given up, kept for an operator to replay: reason permanent (refused) or exhausted (N transient).
FAILED = Counter("notifications_failed_total", "Notifications failed", ["channel", "type", "reason"])
# Send attempts, by outcome: sent, transient (tried again later), permanent.
ATTEMPTS = Counter("notifications_delivery_attempts_total", "Delivery attempts, by outcome", ["channel", "outcome"])
# Seconds from the triggering event (its occurred_at) to the channel's acceptance.
LATENCY = Histogram("notifications_delivery_latency_seconds", "Seconds from the triggering event to sent",
                    ["channel"], buckets=(0.5, 1, 2.5, 5, 15, 60, 300, 900, 3600, 4 * 3600, 12 * 3600, 86400))
# Notifications by delivery state (pending: the queue depth; failed and uncertain wait for an operator).
IN_STATE = Gauge("notifications_in_state", "Notifications by delivery state", ["channel", "state"])
# Pending notifications already due (next_attempt_at passed): the queue the dispatcher is behind on. Rows
# waiting out quiet hours or a backoff are pending but not due, so a quiet night does not look like a backlog.
DUE = Gauge("notifications_due", "Pending notifications already due", ["channel"])
# Seconds the oldest due notification has been waiting past its due time.
OLDEST_DUE = Gauge("notifications_oldest_due_seconds", "Age past due of the oldest due notification", ["channel"])
# SMS held back to the end of the participant's quiet hours.
DEFERRED = Counter("notifications_deferred_quiet_hours_total", "Sends deferred by quiet hours", ["channel"])
# Rows found `sending` after a crash, by what they became (pending: resent, gateway dedupes; uncertain).
RECOVERED = Counter("notifications_recovered_total", "Interrupted sends recovered at start", ["channel", "state"])
# Failed or uncertain notifications an operator sent again.
REPLAYED = Counter("notifications_replayed_total", "Notifications replayed by an operator", ["channel"])
# 1 while this process holds the dispatcher lock (one dispatcher sends per schema).
DISPATCHER_ACTIVE = Gauge("notifications_dispatcher_active", "1 while this process is the sending dispatcher")

# --- Core (triggers, contacts, rendering) ---
# Notifications created (pending rows), by channel and message type.
CREATED = Counter("notifications_created_total", "Notifications created, by channel and type", ["channel", "type"])
# Triggers that reached nobody: no contact for the participant, or no channel with an address; by message type.
WITHOUT_CONTACT = Counter("notifications_participants_without_contact_total",
                          "Triggers for participants without a usable contact, by type", ["type"])
# Contact records, by outcome: stored (newer), erased (a tombstone), stale (earlier on the topic than the one
# stored: ignored).
CONTACTS = Counter("notifications_contacts_total", "Contact records received, by outcome", ["outcome"])
# Notifications cancelled before being sent, by reason (contact_erased: the registry deleted the contact).
CANCELLED = Counter("notifications_cancelled_total", "Notifications cancelled before sending, by reason", ["reason"])
# SMS shortened to fit two segments: unaccented (diacritics removed) or truncated (cut at a word), by type.
SMS_SHORTENED = Counter("notifications_sms_shortened_total", "SMS shortened to fit two segments, by how and type",
                        ["how", "type"])
# Triggers kept for a participant without a usable contact, by outcome: kept, told (a contact arrived),
# expired (none arrived in ANSINH_KEEP_TRIGGERS_S), erased (the contact was erased).
KEPT_TRIGGERS = Counter("notifications_kept_triggers_total", "Triggers kept until a contact arrives, by outcome",
                        ["outcome"])
# Monthly contribution digests emitted by the sweep.
DIGESTS = Counter("notifications_digests_emitted_total", "Monthly contribution digests emitted")
