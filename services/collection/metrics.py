"""Collection's Prometheus metrics, each declared once here."""
from prometheus_client import Counter, Gauge

# Declarations handled, by outcome: assessed (first revision), adjusted, stale (older revision), duplicate.
DECLARATIONS = Counter("collection_declarations_total", "Declarations processed, by outcome", ["outcome"])
# Declarations refused to the DLQ, by a reason code a payroll vendor can look up.
DECLARATIONS_REJECTED = Counter("collection_declarations_rejected_total", "Declarations rejected", ["reason"])
# VND assessed (initial assessments and upward adjustments), by fund.
ASSESSED_VND = Counter("collection_assessed_vnd_total", "VND assessed, by fund", ["fund"])
# VND removed by downward adjustments, by fund.
REDUCED_VND = Counter("collection_reduced_vnd_total", "VND removed by downward revisions, by fund", ["fund"])
# Payments, by outcome: recorded, suspense (held unidentified), assigned (from suspense by an operator),
# duplicate_payment, duplicate_event, conflict (same payment id, other content: DLQ), refused (DLQ).
REMITTANCES = Counter("collection_remittances_total", "Remittances received, by outcome", ["outcome"])
# camt.054 entries not credited, by the parser's code (debit, reversal, currency, ...).
ENTRIES_NOT_CREDITED = Counter("collection_camt054_entries_not_credited_total",
                               "camt.054 entries not credited, by code", ["code"])
# Unidentified receipts waiting on the suspense list for an operator.
SUSPENSE_RECEIPTS = Gauge("collection_suspense_receipts", "Unidentified receipts on the suspense list")
# VND held on the suspense list.
SUSPENSE_VND = Gauge("collection_suspense_vnd", "VND held in unidentified receipts")
# VND given back to credit by downward revisions, by fund.
RELEASED_VND = Counter("collection_released_vnd_total", "VND released from obligations to credit, by fund",
                       ["fund"])
# VND allocated to obligations, by fund (from payments and from credit).
ALLOCATED_VND = Counter("collection_allocated_vnd_total", "VND allocated to obligations, by fund", ["fund"])
# Sum of all employers' unapplied credit, VND (refreshed after each remittance batch).
CREDIT_BALANCE = Gauge("collection_credit_balance_vnd", "Total unapplied employer credit, VND")
# Employers holding credit.
CREDIT_EMPLOYERS = Gauge("collection_credit_employers", "Employers with a credit balance")
# Under-declarations flagged for inspectors.
FLAGS = Counter("collection_compliance_flags_total", "Compliance flags raised", ["kind"])
