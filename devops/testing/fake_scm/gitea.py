"""Placeholder until the fake routes land."""
