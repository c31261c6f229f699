"""Source code providers. ``git`` is the plain provider every other one builds on."""
