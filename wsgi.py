"""The WSGI entry point for gunicorn: ``gunicorn wsgi:app``."""

from workflow import create_app

app = create_app()
