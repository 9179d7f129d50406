"""Entry points of the markets service.

    gunicorn 'markets.wsgi:create_app()'      the web app; its settings are checked as it starts
    flask --app markets.wsgi <command>        an operator command (the one Flask app below)

``flask --app`` finds ``commands``: it lists the commands without any setting and builds the service's
app from the environment only to run one.
"""
from plumbing.web import command_line_app

from .app import create_app, register_commands

commands = command_line_app("markets", create_app, register_commands)
