"""workflow.records: package."""
