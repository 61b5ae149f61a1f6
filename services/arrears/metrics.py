"""Arrears' Prometheus metrics, each declared once here.

The gauges are refreshed from the database after every daily run and at start-up (``refresh_gauges`` in
``services.arrears.operations``), so a restarted service does not report 0 until the next run.
"""
from prometheus_client import Counter, Gauge, Histogram

# Principal unpaid after its due date, all employers and periods, VND (as of the last run's business date).
OVERDUE_PRINCIPAL = Gauge("arrears_overdue_principal_vnd", "Principal unpaid after its due date, VND")
# Late-payment interest accrued and not corrected away, all employers, VND (as of the last run).
INTEREST_ACCRUED = Gauge("arrears_interest_accrued_vnd", "Late-payment interest accrued, VND")
# Employers with principal unpaid after a due date (as of the last run).
OVERDUE_EMPLOYERS = Gauge("arrears_overdue_employers", "Employers with overdue principal")
# Overdue principal over the principal due in the 12 months to the business date (agency target < 0.0269).
LATE_PAYMENT_RATIO = Gauge("arrears_late_payment_ratio", "Overdue principal / principal due in the last 12 months")
# Seconds one daily run took (accrual, status detection, workers' notices), by what started it.
RUN_SECONDS = Histogram("arrears_run_duration_seconds", "Seconds a daily run took", ["trigger"],
                        buckets=(0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800))
# Rows a daily run wrote, by kind: accrual (interest rows), status_events, worker_notices.
RUN_ROWS = Counter("arrears_run_rows_total", "Rows written by daily runs, by kind", ["kind"])
# Daily runs that raised (the scheduler retries; the alert fires if the business date stays undone).
RUN_FAILURES = Counter("arrears_run_failures_total", "Daily runs that failed")
# The latest business date with a finished run, as the Unix time of its midnight in Asia/Ho_Chi_Minh.
LAST_RUN_DATE = Gauge("arrears_last_run_business_date_seconds",
                      "Business date of the latest finished daily run (Unix time of its local midnight)")
# Status events emitted, by type (EmployerOverdue, ArrearsCleared, EvasionSuspected, WorkerContributionsUnpaid).
STATUS_EVENTS = Counter("arrears_status_events_total", "Status events emitted, by type", ["type"])
# Declarations (assessed, adjusted, flagged) recorded by the workers' consumer.
WORKERS_RECORDED = Counter("arrears_declared_workers_recorded_total", "Worker declarations recorded")
