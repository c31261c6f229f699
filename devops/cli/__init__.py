"""Helpers behind the management commands: the embedded worker and the live follower."""
