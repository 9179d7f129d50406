"""Application factory of the notifications service, its settings and its operator commands."""
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import click
import marshmallow as ma
from flask import current_app
from marshmallow.validate import URL, Email, Range
from plumbing.contractor_keys import principal_for_contractor_key
from plumbing.settings import Settings, load_settings
from plumbing.web import create_service_app

from . import api, domain, handlers

def _time_zone(name: str) -> None:
    try:
        ZoneInfo(name)
    except Exception:  # noqa: BLE001 - unknown or malformed name
        raise ma.ValidationError("unknown time zone") from None


EXTRA_SETTINGS = {
    # where the links in messages point: the platform as its users reach it
    "public_url": lambda env: env.str("NOTIFICATIONS_PUBLIC_URL", "http://127.0.0.1:8100",
                                      validate=URL(require_tld=False)),
    "smtp_host": lambda env: env.str("SMTP_HOST", "127.0.0.1"),
    "smtp_port": lambda env: env.int("SMTP_PORT", 25, validate=Range(min=1, max=65535)),
    "smtp_from": lambda env: env.str("SMTP_FROM", "alertes@clauses-sociales.example", validate=Email()),
    "smtp_starttls": lambda env: env.bool("SMTP_STARTTLS", False),
    "smtp_username": lambda env: env.str("SMTP_USERNAME", None),
    "smtp_password": lambda env: env.str("SMTP_PASSWORD", None),
    "smtp_timeout_s": lambda env: env.float("SMTP_TIMEOUT_S", 10.0, validate=Range(min=0.1)),
    "webhook_timeout_s": lambda env: env.float("NOTIFICATIONS_WEBHOOK_TIMEOUT_S", 10.0, validate=Range(min=0.1)),
    # host names, addresses or networks of the private network that webhooks may call (the local stack's)
    "webhook_allowed": lambda env: domain.parse_allowed_hosts(env.list("NOTIFICATIONS_WEBHOOK_ALLOWED_HOSTS", [])),
    "delivery_interval_s": lambda env: env.float("NOTIFICATIONS_DELIVERY_INTERVAL_S", 2.0,
                                                 validate=Range(min=0.01)),
    "retry_base_s": lambda env: env.float("NOTIFICATIONS_RETRY_BASE_S", 30.0, validate=Range(min=0.01)),
    "retry_max_s": lambda env: env.float("NOTIFICATIONS_RETRY_MAX_S", 3600.0, validate=Range(min=0.01)),
    # how long a lot's status-change mail waits, unsent if the change is reverted or replaced meanwhile
    "quiet_period_s": lambda env: env.float("NOTIFICATIONS_QUIET_PERIOD_S", 900.0, validate=Range(min=0, max=86400)),
    "no_declaration_days": lambda env: env.int("NOTIFICATIONS_NO_DECLARATION_DAYS", 30, validate=Range(min=1)),
    "end_approaching_ratio": lambda env: env.float("NOTIFICATIONS_END_APPROACHING_RATIO", 0.8,
                                                   validate=Range(min=0, max=1, min_inclusive=False,
                                                                  max_inclusive=False)),
    "digest_timezone": lambda env: env.str("NOTIFICATIONS_DIGEST_TIMEZONE", "Europe/Paris",
                                                validate=_time_zone),
}


def load() -> Settings:
    return load_settings("notifications", EXTRA_SETTINGS)


def create_app(settings: Settings | None = None):
    app = create_service_app(
        settings or load(), title="Clauses sociales — alertes",
        description="Alertes sur l'avancement des lots, les déclarations refusées et les fenêtres de comptage, "
                    "pour les facilitateurs de chaque territoire concerné, les acheteurs et les entreprises ; "
                    "destinataires, abonnements (courriel, webhook signé, immédiat ou récapitulatif quotidien) "
                    "et journal des envois.",
        blueprints=[api.blp], api_key_resolver=principal_for_contractor_key, consumes=handlers.CONSUMES)
    register_commands(app)
    return app


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        raise click.BadParameter("date attendue au format AAAA-MM-JJ") from None


def register_commands(app) -> None:
    @app.cli.command("deliver-pending")
    def deliver_pending():
        """Send every delivery that is due now (e-mails, webhooks), including retries."""
        from .delivery import deliver_due
        counts = deliver_due(current_app.extensions["settings"].extra)
        click.echo(f"sent: {counts['sent']}, failed (retried later): {counts['failed']}, "
                   f"cancelled: {counts['cancelled']}")

    @app.cli.command("send-digests")
    @click.option("--day", default=None, help="the day whose alerts are gathered (default: yesterday)")
    def send_digests(day):
        """Gather a day's alerts into one message per recipient and channel (daily digest subscriptions)."""
        settings = current_app.extensions["settings"]
        local_today = datetime.now(ZoneInfo(settings.extra["digest_timezone"])).date()
        wanted = _day(day) or local_today - timedelta(days=1)
        created = handlers.send_digests(settings, wanted)
        click.echo(f"digests created for {wanted.isoformat()}: {created} (sent by the worker or deliver-pending)")

    @app.cli.command("evaluate-rules")
    @click.option("--today", default=None, help="evaluate as on this day (default: today)")
    def evaluate_rules(today):
        """Raise the alerts that time alone triggers: no declaration for N days, the end of a contract near
        with a shortfall."""
        raised = handlers.evaluate_rules(current_app.extensions["settings"], _day(today))
        click.echo(", ".join(f"{kind}: {count}" for kind, count in raised.items()))
