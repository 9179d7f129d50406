"""gunicorn entrypoint: ``gunicorn participants.wsgi:app``."""
from .app import create_app

app = create_app()
