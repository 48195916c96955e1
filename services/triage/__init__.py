"""Triage: recurrence and danger for every call, with the reasons (faust-streaming worker)."""
