"""Dyade: shared foundation (contracts, settings, Kafka, database, observability, command line)."""
__version__ = "0.1.0"
