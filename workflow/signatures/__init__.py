"""workflow.signatures: package."""
