"""workflow.setup: package."""
