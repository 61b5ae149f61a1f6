"""Delivery: channel adapters (SMTP e-mail, the SMS/push gateway) and the dispatcher that sends due
notifications, records what happened, retries, and recovers after a crash (docs/notifications.md#delivery)."""
