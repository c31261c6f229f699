"""Test doubles that speak real protocols (no client is ever mocked)."""
