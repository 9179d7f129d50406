"""Entry points of the web application.

    gunicorn 'web.wsgi:create_app()'      the pages; settings are checked as it starts
"""
from .app import create_app  # noqa: F401
