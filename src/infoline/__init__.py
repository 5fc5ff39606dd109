"""Migrant Infoline: a multilingual assistant for a migrant information line."""
