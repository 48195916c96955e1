"""Pure decisions of the notifier: roster and shifts, routing, the alert life cycle, escalation,
follow-up reminders, webhook signatures. No Kafka, HTTP or database imports here."""
