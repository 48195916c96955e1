"""Pure triage decisions: no Kafka, HTTP or database code here (tested in milliseconds)."""
