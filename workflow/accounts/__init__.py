"""workflow.accounts.service: package."""
