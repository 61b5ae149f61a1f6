"""Writes deploy/grafana/dashboards/*.json: the platform overview and one dashboard per service.

The panels are declared here, once, as (title, unit, queries) so the JSON files stay uniform and a reviewer
reads the queries in one place. Edit this file, then run it and commit the JSON:

    .venv/bin/python deploy/grafana/build_dashboards.py

tests/unit/test_deploy.py checks the JSON is what this script writes; tests/integration/test_dashboards.py
evaluates every query against a real Prometheus scraping running services.
"""
from __future__ import annotations

import json
from pathlib import Path

OUT = Path(__file__).resolve().parent / "dashboards"
DATASOURCE = {"type": "prometheus", "uid": "prometheus"}


def q(expr: str, legend: str = "") -> tuple[str, str]:
    return expr, legend


# Panels shared by every service dashboard: the runtime's metrics for that service ($-free: filtered by
# the service label Prometheus adds to every scraped series).
def runtime_panels(service: str) -> list[tuple]:
    s = f'service="{service}"'
    return [
        ("Messages in and settled per second, by topic", "ops", [
            q(f"sum by (topic) (rate(ansinh_received_messages_total{{{s}}}[1m]))", "{{topic}} in"),
            q(f"sum by (topic, outcome) (rate(ansinh_consumed_messages_total{{{s}}}[1m]))", "{{topic}} {{outcome}}")]),
        ("Consumer lag (messages), by topic", "short", [q(f"ansinh_consumer_lag_messages{{{s}}}", "{{topic}}")]),
        ("Batch handling time p99, by topic", "s", [
            q(f"histogram_quantile(0.99, sum by (le, topic) (rate(ansinh_handler_batch_seconds_bucket{{{s}}}[5m])))",
              "{{topic}}")]),
        ("Dead-lettered (last 10 min), by topic and error class", "short", [
            q(f"sum by (topic, error_class) (increase(ansinh_dlq_messages_total{{{s}}}[10m]))",
              "{{topic}} {{error_class}}")]),
        ("Outbox pending and publish lag p99", "short", [
            q(f"ansinh_outbox_pending{{{s}}}", "pending"),
            q(f"histogram_quantile(0.99, sum by (le) (rate(ansinh_outbox_publish_lag_seconds_bucket{{{s}}}[5m])))",
              "lag p99 (s)")]),
        ("Database pool connections", "short", [
            q(f"ansinh_db_pool_connections{{{s}}}", "{{state}}"),
            q(f"ansinh_db_pool_max_connections{{{s}}}", "max")]),
    ]


OVERVIEW = ("ansinh-overview", "ansinh: platform overview", [
    ("Service readiness (1 ready)", "short", [q("ansinh_ready", "{{service}}"), q('up{job="ansinh"}', "{{service}} up")]),
    ("Messages in per second, by service and topic", "ops", [
        q("sum by (service, topic) (rate(ansinh_received_messages_total[1m]))", "{{service}} {{topic}}")]),
    ("Messages settled per second, by outcome", "ops", [
        q("sum by (service, topic, outcome) (rate(ansinh_consumed_messages_total[1m]))",
          "{{service}} {{topic}} {{outcome}}")]),
    ("Consumer lag (messages)", "short", [q("ansinh_consumer_lag_messages", "{{service}} {{topic}}")]),
    ("Dead letters per minute, by service, topic and error class", "short", [
        q("sum by (service, topic, error_class) (rate(ansinh_dlq_messages_total[5m])) * 60",
          "{{service}} {{topic}} {{error_class}}")]),
    ("Batch handling time p50 / p99", "s", [
        q("histogram_quantile(0.5, sum by (le, service, topic) (rate(ansinh_handler_batch_seconds_bucket[5m])))",
          "p50 {{service}} {{topic}}"),
        q("histogram_quantile(0.99, sum by (le, service, topic) (rate(ansinh_handler_batch_seconds_bucket[5m])))",
          "p99 {{service}} {{topic}}")]),
    ("Outbox backlog (events committed, not yet published)", "short", [q("ansinh_outbox_pending", "{{service}}")]),
    ("Outbox: published per second and publish lag p99", "short", [
        q("sum by (service) (rate(ansinh_outbox_published_total[1m]))", "{{service}} published/s"),
        q("histogram_quantile(0.99, sum by (le, service) (rate(ansinh_outbox_publish_lag_seconds_bucket[5m])))",
          "{{service}} lag p99 (s)")]),
    ("Retries per minute, by operation", "short", [
        q("sum by (service, operation) (rate(ansinh_retries_total[5m])) * 60", "{{service}} {{operation}}")]),
    ("Held consumers (1: a bug of ours stops a topic)", "short", [
        q("ansinh_consumer_held", "{{service}} {{topic}}"),
        q("ansinh_dead_letters_in_a_row", "{{service}} {{topic}} dead letters in a row")]),
    ("Database pool in use / max", "percentunit", [
        q('sum by (service) (ansinh_db_pool_connections{state="in_use"}) / sum by (service) (ansinh_db_pool_max_connections)',
          "{{service}}")]),
    ("Outbox relay: active and locks lost", "short", [
        q("ansinh_outbox_relay_active", "{{service}} active"),
        q("sum by (service) (increase(ansinh_outbox_relay_lock_lost_total[1h]))", "{{service}} locks lost (1h)")]),
])

COLLECTION = ("ansinh-collection", "ansinh: collection", [
    ("Declarations per second, by outcome", "ops", [
        q("sum by (outcome) (rate(collection_declarations_total[1m]))", "{{outcome}}")]),
    ("Declarations rejected, by reason (last hour)", "short", [
        q("sum by (reason) (increase(collection_declarations_rejected_total[1h]))", "{{reason}}")]),
    ("VND assessed per minute, by fund", "currencyVND", [
        q("sum by (fund) (rate(collection_assessed_vnd_total[5m])) * 60", "{{fund}}")]),
    ("VND reduced and released per minute, by fund", "currencyVND", [
        q("sum by (fund) (rate(collection_reduced_vnd_total[5m])) * 60", "reduced {{fund}}"),
        q("sum by (fund) (rate(collection_released_vnd_total[5m])) * 60", "released {{fund}}")]),
    ("VND allocated per minute, by fund", "currencyVND", [
        q("sum by (fund) (rate(collection_allocated_vnd_total[5m])) * 60", "{{fund}}")]),
    ("Remittances per minute, by outcome", "short", [
        q("sum by (outcome) (rate(collection_remittances_total[5m])) * 60", "{{outcome}}")]),
    ("Employers' credit (VND)", "currencyVND", [q("collection_credit_balance_vnd", "credit")]),
    ("Employers holding credit", "short", [q("collection_credit_employers", "employers")]),
    ("Suspense: unidentified receipts and VND", "short", [
        q("collection_suspense_receipts", "receipts"), q("collection_suspense_vnd", "VND")]),
    ("camt.054 entries not credited, by code (last hour)", "short", [
        q("sum by (code) (increase(collection_camt054_entries_not_credited_total[1h]))", "{{code}}")]),
    ("Compliance flags raised (last day), by kind", "short", [
        q("sum by (kind) (increase(collection_compliance_flags_total[1d]))", "{{kind}}")]),
    *runtime_panels("collection"),
])

ARREARS = ("ansinh-arrears", "ansinh: arrears", [
    ("Overdue principal (VND)", "currencyVND", [q("arrears_overdue_principal_vnd", "overdue principal")]),
    ("Interest accrued (VND)", "currencyVND", [q("arrears_interest_accrued_vnd", "interest accrued")]),
    ("Overdue employers", "short", [q("arrears_overdue_employers", "employers")]),
    ("Late-payment ratio vs the 2.69% target", "percentunit", [
        q("arrears_late_payment_ratio", "late-payment ratio"), q("vector(0.0269)", "target 2.69%")]),
    ("Daily run duration p99 (seconds), by trigger", "s", [
        q("histogram_quantile(0.99, sum by (le, trigger) (rate(arrears_run_duration_seconds_bucket[1d])))",
          "{{trigger}}")]),
    ("Days since the latest finished business date", "short", [
        q("(time() - arrears_last_run_business_date_seconds) / 86400 and arrears_last_run_business_date_seconds > 0",
          "days")]),
    ("Rows written by daily runs (last day), by kind", "short", [
        q("sum by (kind) (increase(arrears_run_rows_total[1d]))", "{{kind}}")]),
    ("Status events (last day), by type", "short", [
        q("sum by (type) (increase(arrears_status_events_total[1d]))", "{{type}}")]),
    ("Daily run failures (last day)", "short", [q("increase(arrears_run_failures_total[1d])", "failures")]),
    ("Worker declarations recorded per second", "ops", [
        q("rate(arrears_declared_workers_recorded_total[1m])", "recorded")]),
    *runtime_panels("arrears"),
])

PAYMENTS = ("ansinh-payments", "ansinh: payments", [
    ("Latest run: payments by channel and state", "short", [
        q("payments_run_payments", "{{channel}} {{state}}")]),
    ("Latest run: VND by channel and state", "currencyVND", [
        q("payments_run_amount_vnd", "{{channel}} {{state}}")]),
    ("Run progress (rows done / total), by phase", "percentunit", [
        q("payments_run_rows_done / (payments_run_rows_planned > 0)", "{{phase}}")]),
    ("Run phase duration p99, by phase", "s", [
        q("histogram_quantile(0.99, sum by (le, phase) (rate(payments_run_duration_seconds_bucket[1d])))",
          "{{phase}}")]),
    ("Payments sent per minute, by channel", "short", [
        q("sum by (channel) (rate(payments_sent_total[5m])) * 60", "{{channel}}")]),
    ("Rejection rate by bank (last hour)", "percentunit", [
        q('sum by (bank) (increase(payments_rejections_total[1h])) / '
          'sum by (bank) (increase(payments_bank_statuses_total{status=~"ACSC|ACCC|RJCT"}[1h]))', "{{bank}}")]),
    ("Rejections by bank and reason (last day)", "short", [
        q("sum by (bank, reason) (increase(payments_rejections_total[1d]))", "{{bank}} {{reason}}")]),
    ("Payment outcomes (last day)", "short", [
        q("sum by (outcome) (increase(payments_outcomes_total[1d]))", "{{outcome}}")]),
    ("Status reports per minute, by source and outcome", "short", [
        q("sum by (source, outcome) (rate(payments_status_reports_total[5m])) * 60", "{{source}} {{outcome}}")]),
    ("Reconciliation mismatches (last day), by scope", "short", [
        q("sum by (scope) (increase(payments_reconciliation_mismatches_total[1d]))", "{{scope}}")]),
    ("Runs late (past execution date, not all sent)", "short", [q("payments_runs_late", "runs late")]),
    ("Award events per minute, by kind and outcome", "short", [
        q("sum by (kind, outcome) (rate(payments_award_events_total[5m])) * 60", "{{kind}} {{outcome}}"),
        q("sum by (code) (rate(payments_award_events_refused_total[5m])) * 60", "refused {{code}}")]),
    ("Fraud signals and 6-month suspensions (last day)", "short", [
        q("sum by (signal) (increase(payments_flags_total[1d]))", "{{signal}}"),
        q("increase(payments_non_collection_suspensions_total[1d])", "suspended for non-collection")]),
    *runtime_panels("payments"),
])

NOTIFICATIONS = ("ansinh-notifications", "ansinh: notifications", [
    ("Sent per minute, by channel", "short", [
        q("sum by (channel) (rate(notifications_sent_total[5m])) * 60", "{{channel}}")]),
    ("Failed (last hour), by channel and reason", "short", [
        q("sum by (channel, reason) (increase(notifications_failed_total[1h]))", "{{channel}} {{reason}}")]),
    ("Delivery attempts per minute, by channel and outcome", "short", [
        q("sum by (channel, outcome) (rate(notifications_delivery_attempts_total[5m])) * 60",
          "{{channel}} {{outcome}}")]),
    ("Latency from event to sent p50 / p99, by channel", "s", [
        q("histogram_quantile(0.5, sum by (le, channel) (rate(notifications_delivery_latency_seconds_bucket[15m])))",
          "p50 {{channel}}"),
        q("histogram_quantile(0.99, sum by (le, channel) (rate(notifications_delivery_latency_seconds_bucket[15m])))",
          "p99 {{channel}}")]),
    ("Queue depth: due now, by channel", "short", [q("notifications_due", "{{channel}}")]),
    ("Oldest due notification (seconds past due)", "s", [q("notifications_oldest_due_seconds", "{{channel}}")]),
    ("Notifications by delivery state", "short", [q("notifications_in_state", "{{channel}} {{state}}")]),
    ("Created per minute, by channel and type", "short", [
        q("sum by (channel, type) (rate(notifications_created_total[5m])) * 60", "{{channel}} {{type}}")]),
    ("Triggers without a usable contact (last hour), by type", "short", [
        q("sum by (type) (increase(notifications_participants_without_contact_total[1h]))", "{{type}}")]),
    ("Contacts received per minute, by outcome", "short", [
        q("sum by (outcome) (rate(notifications_contacts_total[5m])) * 60", "{{outcome}}")]),
    ("Deferred by quiet hours, replayed, recovered (last day)", "short", [
        q("sum by (channel) (increase(notifications_deferred_quiet_hours_total[1d]))", "deferred {{channel}}"),
        q("sum by (channel) (increase(notifications_replayed_total[1d]))", "replayed {{channel}}"),
        q("sum by (channel, state) (increase(notifications_recovered_total[1d]))", "recovered {{channel}} {{state}}")]),
    ("Dispatcher active (one per schema)", "short", [q("notifications_dispatcher_active", "{{instance}}")]),
    *runtime_panels("notifications"),
])

DASHBOARDS = (OVERVIEW, COLLECTION, ARREARS, PAYMENTS, NOTIFICATIONS)


def dashboard(uid: str, title: str, panels: list[tuple]) -> dict:
    out = []
    for i, (panel_title, unit, queries) in enumerate(panels):
        out.append({
            "id": i + 1, "type": "timeseries", "title": panel_title, "datasource": DATASOURCE,
            "gridPos": {"x": 12 * (i % 2), "y": 8 * (i // 2), "w": 12, "h": 8},
            "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
            "targets": [{"refId": chr(ord("A") + j), "expr": expr, "legendFormat": legend, "datasource": DATASOURCE}
                        for j, (expr, legend) in enumerate(queries)],
        })
    return {"uid": uid, "title": title, "schemaVersion": 39, "version": 1, "time": {"from": "now-1h", "to": "now"},
            "refresh": "10s", "tags": ["ansinh"], "templating": {"list": []}, "annotations": {"list": []},
            "panels": out}


def rendered() -> dict[str, str]:
    """File name -> JSON text, as committed."""
    return {f"{uid}.json": json.dumps(dashboard(uid, title, panels), indent=1, ensure_ascii=False) + "\n"
            for uid, title, panels in DASHBOARDS}


if __name__ == "__main__":
    for name, text in rendered().items():
        (OUT / name).write_text(text)
        print("wrote", OUT / name)
