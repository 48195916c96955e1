"""Dyade services: one package per service (intake, triage, infosocial, notifier, analytics)."""
