"""Notifier: how the outside world reaches the service: HTTP API and pages, consumed topics, command line."""
