"""Application factory of the observatory service, with its rebuild command."""
import click
from marshmallow.validate import Range
from plumbing.replay import WorkerRunning
from plumbing.settings import Settings, load_settings
from plumbing.web import create_service_app

from . import api, handlers


def load() -> Settings:
    # a published count of people below this is hidden (statistical secret)
    return load_settings("observatory", {"threshold": lambda env: env.int("OBSERVATORY_THRESHOLD", 5,
                                                                          validate=Range(min=2, max=100))})


def create_app(settings: Settings | None = None):
    app = create_service_app(
        settings or load(), title="Clauses sociales — observatoire",
        description="Statistiques croisées des heures d'insertion exigées et réalisées, des participants et de "
                    "leurs sorties, sous secret statistique ; exports CSV et XLSX ; bilan d'un marché pour son "
                    "acheteur ; panorama annuel ; observatoire public.",
        blueprints=[api.blp, api.public], consumes=handlers.CONSUMES)
    register_commands(app)
    return app


def register_commands(app) -> None:
    @app.cli.command("rebuild")
    def rebuild():
        """Rebuild the read model from the beginning of the markets, hours and participants topics.
        Stop the observatory's worker first; it goes on from where the rebuild stopped."""
        from flask import current_app
        try:
            result = handlers.rebuild(current_app.extensions["settings"])
        except WorkerRunning as running:
            raise click.ClickException(str(running)) from None
        click.echo(f"Modèle reconstruit : {result['events']} événements, {result['lines']} lignes, "
                   f"en {result['seconds']} s ({result['events_per_second']} événements/s).")
