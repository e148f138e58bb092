"""WSGI entry point: `gunicorn wsgi:app`, `flask --app wsgi ...`."""

from statuspage import create_app

app = create_app()
