"""Notifier: what the service does to the outside world: its tables, the outbox relay, clients of the other services."""
