"""Entry points of the observatory service.

    gunicorn 'observatory.wsgi:create_app()'      the web app; its settings are checked as it starts
    flask --app observatory.wsgi <command>        an operator command (rebuild)
"""
from plumbing.web import command_line_app

from .app import create_app, register_commands

commands = command_line_app("observatory", create_app, register_commands)
