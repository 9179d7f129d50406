"""Application factory of the participants service, with its scheduled commands."""
from datetime import date

import click
from plumbing.derived import refresh_derived_fields_command
from plumbing.settings import Settings, load_settings
from plumbing.web import create_service_app

from . import api, handlers, importing
from .store import Participant

MAX_UPLOAD_BYTES = 5 * 1024 * 1024  # an import file; larger ones get 413
EXTRA_SETTINGS = {
    # the most data rows an imported CSV or XLSX file may hold; reading stops and refuses past it
    "import_max_rows": lambda env: env.int("PARTICIPANTS_IMPORT_MAX_ROWS", importing.MAX_ROWS,
                                           validate=lambda v: v >= 1),
}


def load() -> Settings:
    return load_settings("participants", extra=EXTRA_SETTINGS)


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
        count = handlers.anonymise_exited(today.date() if today else date.today())
        click.echo(f"Participants sortis anonymisés (durée de conservation écoulée) : {count}.")

    app.cli.add_command(refresh_derived_fields_command((Participant, "participants")))
