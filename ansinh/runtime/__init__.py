"""The service runtime: what runs inside every service (consume loop, inbox, outbox, DLQ, migrations, settings)."""
