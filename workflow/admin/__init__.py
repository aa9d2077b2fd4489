"""workflow.admin.blueprint: package."""
