"""workflow: the Flask application and the workflow domain of TrinhKy."""

from workflow.app import create_app

__all__ = ["create_app"]
