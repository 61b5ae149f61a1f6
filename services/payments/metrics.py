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
RUN_ROWS_TOTAL = Gauge("payments_run_rows_planned", "Rows of the current run phase", ["phase"])
# How long a phase of a run took (prepare, send), seconds.
RUN_SECONDS = Histogram("payments_run_duration_seconds", "Duration of a run phase", ["phase"],
                        buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600))
# Operator decisions on runs, by action (prepare, approve) and outcome (done, refused).
RUN_DECISIONS = Counter("payments_run_decisions_total", "Run preparations and approvals, by outcome",
                        ["action", "outcome"])

# ---- bank and cash status (status.py, reconcile.py, fraud.py) --------------------------------------------
# Status reports received, by source (bank, cash) and what they did (changed, duplicate, late, pending,
# refused, duplicate_event).
STATUS_REPORTS = Counter("payments_status_reports_total", "Status reports received, by source and outcome",
                         ["source", "outcome"])
# Bank statuses that moved a payment, by bank BIN and ISO status (ACTC, ACSC, RJCT...): the rejection rate's base.
BANK_STATUSES = Counter("payments_bank_statuses_total", "Bank statuses that moved a payment, by bank and status",
                        ["bank", "status"])
# Rejections by bank BIN and ISO reason code (AC01, AC04, ...; "none" when the bank gave none).
REJECTIONS = Counter("payments_rejections_total", "Bank rejections, by bank and reason code", ["bank", "reason"])
# What became of payments after a report: settled, retried, rerouted, returned, paid, unclaimed.
PAYMENT_OUTCOMES = Counter("payments_outcomes_total", "Payments settled, retried, rerouted, returned, paid, unclaimed",
                           ["outcome"])
# Retried transfers sent (a new attempt after a rejection), by bank BIN.
RETRIES_SENT = Counter("payments_retries_sent_total", "Retried transfers sent, by bank", ["bank"])
# Beneficiaries' monthly awards suspended by the 6-month rule (cash unclaimed 6 months in a row).
NON_COLLECTION_SUSPENSIONS = Counter("payments_non_collection_suspensions_total",
                                     "Awards suspended for 6 months of unclaimed cash")
# Reconciliations that did not add up, by scope (run, batch).
RECONCILIATION_MISMATCHES = Counter("payments_reconciliation_mismatches_total",
                                    "Reconciliations that did not add up, by scope", ["scope"])
# Fraud signals raised (new flags), by signal.
FLAGS = Counter("payments_flags_total", "Fraud signals raised, by signal", ["signal"])
# Runs whose execution date (business date) has passed and whose orders have not all gone out (not prepared,
# not approved, or still sending): people are not paid on time.
RUNS_LATE = Gauge("payments_runs_late", "Runs past their execution date and not completely sent")
