"""Application factory of the participants service, with its scheduled commands."""
from datetime import date

import click
from flask import current_app
from marshmallow.validate import Range
from plumbing.settings import Settings, load_settings
from plumbing.web import create_service_app

from . import api, handlers

MAX_UPLOAD_BYTES = 5 * 1024 * 1024  # an import file; larger ones get 413


def load() -> Settings:
    return load_settings("participants", extra={
        # Months during which a participant's hours count, from the day they enter the clause
        # (default of the territories whose operators set nothing).
        "counting_window_months": lambda env: env.int("PARTICIPANTS_COUNTING_WINDOW_MONTHS", 24,
                                                      validate=Range(min=1, max=120)),
        # Months after their exit during which a participant's identity is kept, then anonymised.
        "retention_months": lambda env: env.int("PARTICIPANTS_RETENTION_MONTHS", 24,
                                                validate=Range(min=1, max=240)),
    })


def create_app(settings: Settings | None = None):
    app = create_service_app(
        settings or load(), title="Clauses sociales — participants et éligibilité",
        description="Personnes entrant dans une clause sociale, vérification de leur éligibilité sur "
                    "justificatif, fenêtre de comptage de leurs heures, parcours et sorties, import, "
                    "droits d'accès et d'effacement (RGPD).",
        blueprints=[api.blp], consumes=handlers.CONSUMES)
    app.config["MAX_CONTENT_LENGTH"] = MAX_UPLOAD_BYTES
    register_commands(app)
    return app


def _today_option(func):
    return click.option("--today", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
                        help="Run as on this day (YYYY-MM-DD); default: today.")(func)


def register_commands(app) -> None:
    @app.cli.command("check-windows")
    @_today_option
    def check_windows(today):
        """Publish "window ending soon" (30 days ahead) and "window ended", once per window. Run daily."""
        counts = handlers.check_windows(today.date() if today else date.today())
        click.echo(f"Fenêtres de comptage : {counts['window_ending']} bientôt closes, "
                   f"{counts['window_ended']} closes (avis publiés).")

    @app.cli.command("anonymise-exited")
    @_today_option
    def anonymise_exited(today):
        """Anonymise the exited participants whose retention period is over. Run daily."""
        count = handlers.anonymise_exited(handlers.Defaults.from_settings(current_app.extensions["settings"]),
                                          today.date() if today else date.today())
        click.echo(f"Participants sortis anonymisés (durée de conservation écoulée) : {count}.")
