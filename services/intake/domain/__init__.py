"""Intake's pure logic: identities and keys, addresses, code tables, EIDO mapping, events from submissions."""
