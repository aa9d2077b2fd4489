"""workflow.viewer.web: package."""
