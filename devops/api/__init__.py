"""The REST API under /api/v1/ (DRF): thin views over services and selectors; access in devops.access."""
