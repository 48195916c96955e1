"""Replay of a dispatch system's history: `read_export` (library) and `dyade replay` (CLI)."""
