"""Application factory of the hours service."""

from plumbing.settings import Settings, load_settings
from plumbing.web import create_service_app

from . import api, handlers, reported_months, reporting, upload_reports
from .read_cache import read_cache
from .schemas import MAX_BATCH_LINES

EXTRA_SETTINGS = {
    # how long a web worker keeps the lots, windows and settings a line is checked against (read_cache.py)
    "read_cache_seconds": lambda env: env.float("HOURS_READ_CACHE_SECONDS", 2.0, validate=lambda v: v >= 0),
    # the most data rows an uploaded CSV or XLSX file may hold; reading stops and refuses past it
    "upload_max_rows": lambda env: env.int("HOURS_UPLOAD_MAX_ROWS", MAX_BATCH_LINES, validate=lambda v: v >= 1),
    # days after a month's due date before the second reminder and the facilitators' alert (reporting.py)
    "reminder_escalation_days": lambda env: env.int("HOURS_REMINDER_ESCALATION_DAYS", 5,
                                                    validate=lambda v: 1 <= v <= 60),
    # months due more than this many days ago are no longer chased (reporting.remind); keep it above the escalation
    "reminder_window_days": lambda env: env.int("HOURS_REMINDER_WINDOW_DAYS", 31, validate=lambda v: 1 <= v <= 366),
}


def load() -> Settings:
    return load_settings("hours", extra=EXTRA_SETTINGS)


def create_app(settings: Settings | None = None):
    settings = settings or load()
    read_cache.configure(settings.extra["read_cache_seconds"])
    app = create_service_app(
        settings, title="Clauses sociales — heures d'insertion",
        description="Entreprises attributaires, clés d'API et déclarations des heures réalisées par "
                    "les participants.", blueprints=[api.blp], api_key_resolver=handlers.principal_for_api_key,
        consumes=handlers.CONSUMES)
    register_commands(app)
    return app


def register_commands(app) -> None:
    app.cli.add_command(upload_reports.purge_upload_reports)
    app.cli.add_command(reporting.remind_declarations)
    app.cli.add_command(reported_months.rebuild_reported_months)
