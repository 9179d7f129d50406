"""Application factory of the markets service, and its operator commands."""
import click
from flask import current_app
from plumbing.contractor_keys import principal_for_contractor_key
from plumbing.derived import refresh_derived_fields_command
from plumbing.replay import WorkerRunning
from plumbing.settings import Settings, load_settings
from plumbing.web import create_service_app

from . import api, census, census_api, handlers, promotion, rebuild, store


def load() -> Settings:
    return load_settings("markets")


def create_app(settings: Settings | None = None):
    app = create_service_app(
        settings or load(), title="Clauses sociales — marchés et quotas",
        description="Acheteurs, marchés publics porteurs d'une clause sociale, lots, quotas d'heures "
                    "d'insertion et avancement.", blueprints=[api.blp, api.public, census_api.blp, census_api.promotion_blp],
        api_key_resolver=principal_for_contractor_key, consumes=handlers.CONSUMES)
    app.before_request(handlers.read_settings_once_per_request)
    app.teardown_request(handlers.forget_settings_read)
    register_commands(app)
    return app


def register_commands(app) -> None:
    app.cli.add_command(evaluate_lots)
    app.cli.add_command(import_census)
    app.cli.add_command(remind_next_steps)
    app.cli.add_command(rebuild_progress)
    app.cli.add_command(refresh_derived_fields_command((store.Market, "marchés"), (store.Lot, "lots")))


@click.command("evaluate-lots")
@click.option("--today", type=click.DateTime(formats=["%Y-%m-%d"]), help="judge as on this day (default: today)")
def evaluate_lots(today):
    """Re-judge every running lot against its expected curve (for cron or a Kubernetes CronJob).

    Time alone can change a status; the changes are published like any other.
    """
    changed = handlers.evaluate_running_lots(today.date() if today else None)
    click.echo(f"{changed} lot(s) changed status")


@click.command("import-census")
@click.argument("file", type=click.File("rb"))
@click.option("--format", "format_", type=click.Choice(["json", "csv"]), help="default: guessed from the file")
def import_census(file, format_):
    """Import a DECP file (JSON of schema 2.0, or the consolidated CSV): the region's contracts, streamed.

    Importing the same file again changes nothing. Prints the report (French)."""
    from .decp import UnreadableFile
    try:
        report = census.import_file(file, getattr(file, "name", "fichier"), format_, "flask import-census")
    except UnreadableFile as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(report["summary"])
    for refusal in report["refusals"]:
        click.echo(f"  refusés : {refusal['count']} × {refusal['reason']}")


@click.command("remind-next-steps")
@click.option("--today", type=click.DateTime(formats=["%Y-%m-%d"]), help="as on this day (default: today)")
@click.option("--days", default=promotion.REMIND_DAYS_AHEAD, show_default=True, type=click.IntRange(0, 60),
              help="recall next steps due within this many days")
def remind_next_steps(today, days):
    """Recall to the facilitators the promotion next steps coming due (once per step and date)."""
    reminded = promotion.remind_next_steps(today.date() if today else None, days)
    click.echo(f"{reminded} next step(s) recalled")


@click.command("rebuild-progress")
def rebuild_progress():
    """Rebuild every lot's hours and progress from the beginning of the hours topic (after restoring an older
    backup, or facts lost). Stop the markets worker first; started again, it goes on from where it was."""
    try:
        result = rebuild.rebuild_progress(current_app.extensions["settings"])
    except WorkerRunning as running:
        raise click.ClickException(str(running)) from None
    click.echo(f"Avancement reconstruit : {result['events']} événements de déclaration, {result['facts']} "
               f"déclarations sur {result['lots']} lots, {result['lots_changed']} lot(s) modifié(s), "
               f"en {result['seconds']} s ({result['events_per_second']} événements/s).")
