"""Intake: calls and social referrals in, nothing lost, nothing duplicated."""
