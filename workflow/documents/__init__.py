"""workflow.documents.web: package."""
