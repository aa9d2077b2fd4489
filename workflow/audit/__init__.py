"""workflow.audit: package."""
