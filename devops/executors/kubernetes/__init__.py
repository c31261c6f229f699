"""The Kubernetes executor: one pod per execution (pod building here; provisioning and sync come later)."""
