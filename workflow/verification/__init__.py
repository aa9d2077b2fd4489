"""workflow.verification.service: package."""
