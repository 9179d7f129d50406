"""Application factory of the markets service, and its operator commands."""
import click
from plumbing.contractor_keys import principal_for_contractor_key
from plumbing.settings import Settings, load_settings
from plumbing.web import create_service_app

from . import api, handlers


def load() -> Settings:
    return load_settings("markets")


def create_app(settings: Settings | None = None):
    app = create_service_app(
        settings or load(), title="Clauses sociales — marchés et quotas",
        description="Acheteurs, marchés publics porteurs d'une clause sociale, lots, quotas d'heures "
                    "d'insertion et avancement.", blueprints=[api.blp],
        api_key_resolver=principal_for_contractor_key, consumes=handlers.CONSUMES)
    register_commands(app)
    return app


def register_commands(app) -> None:
    app.cli.add_command(evaluate_lots)


@click.command("evaluate-lots")
@click.option("--today", type=click.DateTime(formats=["%Y-%m-%d"]), help="judge as on this day (default: today)")
def evaluate_lots(today):
    """Re-judge every running lot against its expected curve (for cron or a Kubernetes CronJob).

    Time alone can change a status; the changes are published like any other.
    """
    changed = handlers.evaluate_running_lots(today.date() if today else None)
    click.echo(f"{changed} lot(s) changed status")
