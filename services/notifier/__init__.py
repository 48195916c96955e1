"""Notifier: triage decisions → alerts on the right dyad's device, escalation, follow-ups, field app."""
