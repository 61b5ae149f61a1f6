"""Shared runtime of the ansinh services: settings, envelope plumbing, inbox/outbox, DLQ, migrations, platform."""
