"""The Kubernetes executor: one pod per execution, provisioning, and the sync that reads pods back."""
