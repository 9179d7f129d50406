"""gunicorn entrypoint: ``gunicorn notifications.wsgi:app``."""
from .app import create_app

app = create_app()
