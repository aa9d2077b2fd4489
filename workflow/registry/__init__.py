"""workflow.registry: package."""
