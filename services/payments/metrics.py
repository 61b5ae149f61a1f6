"""Payments' Prometheus metrics, each declared once here (the bank side adds its own below)."""
from prometheus_client import Counter, Gauge, Histogram

# Award events applied to entitlements, by event kind and outcome (awarded, amended, suspended, recorded...).
AWARD_EVENTS = Counter("payments_award_events_total", "benefits.awards events applied, by kind and outcome",
                       ["kind", "outcome"])
# Award events refused to the DLQ, by the error code (unknown_award, impossible_transition, ...).
AWARD_EVENTS_REFUSED = Counter("payments_award_events_refused_total", "benefits.awards events refused, by code",
                               ["code"])
# Payments created by run preparation, by channel (a rerun or a concurrent preparation adds none).
PAYMENTS_PREPARED = Counter("payments_prepared_total", "Payments created by run preparation", ["channel"])
# Payments whose order went out (outbox), by channel.
PAYMENTS_SENT = Counter("payments_sent_total", "Payments sent (orders written to the outbox)", ["channel"])
# VND of the payments sent, by channel.
AMOUNT_SENT_VND = Counter("payments_sent_vnd_total", "VND of the payments sent", ["channel"])
# Payments of the latest run touched, by channel and state (refreshed when a run is prepared, approved, sent).
PAYMENTS_BY_STATE = Gauge("payments_run_payments", "Payments of the latest run, by channel and state",
                          ["channel", "state"])
# VND of the latest run's payments, by channel and state.
AMOUNT_BY_STATE = Gauge("payments_run_amount_vnd", "VND of the latest run's payments, by channel and state",
                        ["channel", "state"])
# Rows done in the phase a run is in (prepare: entitlements examined; send: payments sent).
RUN_ROWS_DONE = Gauge("payments_run_rows_done", "Rows done in the current run phase", ["phase"])
# Rows in all of that phase (the progress bar's total).
RUN_ROWS_TOTAL = Gauge("payments_run_rows_total", "Rows of the current run phase", ["phase"])
# How long a phase of a run took (prepare, send), seconds.
RUN_SECONDS = Histogram("payments_run_duration_seconds", "Duration of a run phase", ["phase"],
                        buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600))
# Operator decisions on runs, by action (prepare, approve) and outcome (done, refused).
RUN_DECISIONS = Counter("payments_run_decisions_total", "Run preparations and approvals, by outcome",
                        ["action", "outcome"])
