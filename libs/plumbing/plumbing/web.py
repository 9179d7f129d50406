"""What every service's Flask app shares: the factory skeleton, request ids, health, CLI."""
import copy
import functools
import html
import logging
import re
import time

import click
import mongoengine as me
from flask import Blueprint, Flask, Response, current_app, g, request, send_from_directory
from flask.cli import with_appcontext
from pymongo.errors import ConnectionFailure
from swagger_ui_bundle import swagger_ui_path

from . import metrics
from .auth import ROLES, SECURITY_SCHEMES, TokenVerifier, issue_token
from .database import connect_database
from .guard import guard_requests
from .kafka import broker_reachable, consumer_group_lag, ensure_topics
from .logs import configure_logging, new_request_id, request_id_var
from .openapi import ContractPlugin
from .problems import ProblemApi, problem_response
from .settings import Settings, SettingsError

log = logging.getLogger(__name__)


# The browsable docs: swagger-ui's own files, started by a script of ours rather than an inline one,
# so that the page runs under the strict Content-Security-Policy of plumbing.guard.
DOCS_PAGE = """<!DOCTYPE html>
<html lang="fr">
<head><meta charset="utf-8"><title>{title}</title><link rel="stylesheet" href="swagger-ui/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="swagger-ui/swagger-ui-bundle.js"></script><script src="swagger-ui-init.js"></script></body>
</html>
"""
DOCS_SCRIPT = 'window.ui = SwaggerUIBundle({url: "openapi.json", dom_id: "#swagger-ui", validatorUrl: null});\n'
REQUEST_ID = re.compile(r"[\w.:-]{1,128}", re.ASCII)  # echoed in a header and logged: nothing else


def create_service_app(settings: Settings, *, title: str, description: str, blueprints,
                       api_key_resolver=None, consumes: list[str] = ()) -> Flask:
    """Build the Flask app of one service: database, auth, problem errors, docs, health, CLI."""
    configure_logging(settings.service, settings.log_level)
    connect_database(settings)
    app = Flask(settings.service)
    app.config.update(
        API_TITLE=title, API_VERSION="v1", OPENAPI_VERSION="3.1.0",
        OPENAPI_URL_PREFIX=f"/docs/{settings.service}", OPENAPI_JSON_PATH="openapi.json",
        API_SPEC_OPTIONS={"info": {"description": description},
                          "components": {"securitySchemes": SECURITY_SCHEMES}},
    )
    app.extensions["settings"] = settings
    app.extensions["token_verifier"] = TokenVerifier(settings)
    if api_key_resolver is not None:
        app.extensions["api_key_resolver"] = api_key_resolver
    api = ProblemApi(app, spec_kwargs={"extra_plugins": [ContractPlugin()]})  # errors documented per operation
    for blp in blueprints:
        api.register_blueprint(blp)
    app.register_blueprint(health)
    app.register_blueprint(metrics.blueprint)
    app.extensions["consumed_topics"] = [settings.events_topic(service) for service in consumes]
    _serve_docs(app, f"/docs/{settings.service}", title)
    track_requests(app)
    guard_requests(app, settings.max_request_bytes)  # after the request id is set: its refusals are logged
    for command in COMMON_COMMANDS:
        app.cli.add_command(command)
    return app


def _serve_docs(app: Flask, prefix: str, title: str) -> None:
    """Swagger UI at <prefix>/, from files served here (no CDN: it works offline)."""
    page = DOCS_PAGE.format(title=html.escape(title))
    app.add_url_rule(f"{prefix}/", "docs_page", lambda: Response(page, mimetype="text/html"))
    app.add_url_rule(f"{prefix}/swagger-ui-init.js", "docs_script",
                     lambda: Response(DOCS_SCRIPT, mimetype="text/javascript"))
    app.add_url_rule(f"{prefix}/swagger-ui/<path:filename>", "swagger_ui_asset",
                     lambda filename: send_from_directory(swagger_ui_path, filename))


def track_requests(app: Flask) -> None:
    @app.before_request
    def start():
        given = request.headers.get("X-Request-ID", "")
        g.request_id = given if REQUEST_ID.fullmatch(given) else new_request_id()
        g.request_token = request_id_var.set(g.request_id)
        g.started = time.perf_counter()

    @app.after_request
    def finish(response):
        response.headers["X-Request-ID"] = g.get("request_id", "")
        seconds = time.perf_counter() - g.started
        metrics.count_request(request.endpoint or "unknown", request.method, response.status_code, seconds)
        if request.endpoint and not request.endpoint.startswith(("health.", "metrics.")):
            log.info("request", extra={"method": request.method, "endpoint": request.endpoint,
                                       "status": response.status_code, "ms": round(seconds * 1000, 1)})
        return response

    @app.teardown_request
    def reset(_exc):
        token = g.pop("request_token", None)
        if token is not None:
            request_id_var.reset(token)


health = Blueprint("health", __name__, url_prefix="/health")


@health.get("/live")
def live():
    """The process answers."""
    return {"status": "ok"}


@health.get("/ready")
def ready():
    """The database and the broker answer: the service can do its work. Also says how many events of
    each topic it consumes its worker has still to apply (``lag``); a lag never makes it unready."""
    settings = current_app.extensions["settings"]
    checks = {"database": _database_answers(), "broker": broker_reachable(settings)}
    if all(checks.values()):
        return {"status": "ok", "checks": checks, "lag": _lag(settings)}
    failing = ", ".join(name for name, ok in checks.items() if not ok)
    return problem_response(503, f"Le service n'est pas prêt : {failing} injoignable.", checks=checks)


def _lag(settings) -> dict | None:
    """The consumer group's lag per topic, or None when the broker did not say in time."""
    try:
        return consumer_group_lag(settings, current_app.extensions["consumed_topics"])
    except Exception:  # noqa: BLE001 - a probe reports what it can
        log.warning("consumer lag unknown", exc_info=True)
        return None


def _database_answers() -> bool:
    try:
        me.get_db().command("ping")
        return True
    except Exception:  # noqa: BLE001 - any failure means not ready
        return False


@click.command("dev-token")
@click.option("--role", type=click.Choice(list(ROLES)), required=True)
@click.option("--territory", "territories", multiple=True, required=True)
@click.option("--subject", default="dev-user")
@click.option("--buyer-id", default=None)
@click.option("--siret", default=None, help="the company of a contractor's staff member (role contractor)")
@click.option("--hours", default=12.0, show_default=True)
@with_appcontext
def dev_token(role, territories, subject, buyer_id, siret, hours):
    """Print a development JWT signed with AUTH_JWT_SECRET (ENVIRONMENT=development only)."""
    settings = current_app.extensions["settings"]
    if settings.environment != "development":
        raise click.ClickException("dev-token works only with ENVIRONMENT=development: elsewhere tokens come "
                                   "from the identity provider")
    if not settings.jwt_secret:
        raise click.ClickException("AUTH_JWT_SECRET is not set: tokens come from the identity provider")
    if hours > settings.jwt_max_lifetime_hours:
        raise click.ClickException(f"--hours: at most {settings.jwt_max_lifetime_hours:g} "
                                   "(AUTH_JWT_MAX_LIFETIME_HOURS); the services refuse longer tokens")
    if (role == "contractor") != bool(siret):
        raise click.ClickException("--siret: required with --role contractor (the company), refused otherwise")
    click.echo(issue_token(settings.jwt_secret, subject, role, list(territories), hours,
                           settings.jwt_issuer, settings.jwt_audience, buyer_id, siret))


@click.command("create-topics")
@with_appcontext
def create_topics():
    """Create this service's topics (events, dead letters, and those it consumes)."""
    settings = current_app.extensions["settings"]
    topics = [settings.topic, settings.dead_letter_topic, *current_app.extensions["consumed_topics"]]
    created = ensure_topics(settings, topics)
    click.echo(f"created: {', '.join(created) or 'none (all exist)'}")


COMMON_COMMANDS = [dev_token, create_topics]


def command_line_app(service: str, create_app, register_commands) -> Flask:
    """What ``flask --app <service>.wsgi`` loads: the service's operator commands, listed without
    reading any setting (so ``--help`` works anywhere). Running one builds the service's app from the
    environment first; an environment that does not work is said in one line, not a traceback."""
    app = Flask(service)
    for command in COMMON_COMMANDS:
        app.cli.add_command(command)
    register_commands(app)
    for name, command in app.cli.commands.items():
        app.cli.commands[name] = _in_service_app(command, create_app)
    return app


def _in_service_app(command: click.Command, create_app) -> click.Command:
    @functools.wraps(command.callback)
    def run(*args, **kwargs):
        try:
            app = create_app()
        except SettingsError as exc:
            raise click.ClickException(str(exc)) from None
        try:
            with app.app_context():
                return command.callback(*args, **kwargs)
        except ConnectionFailure:
            url = app.extensions["settings"].mongodb_url
            raise click.ClickException(f"the database does not answer at {url} (MONGODB_URL)") from None

    wrapped = copy.copy(command)  # the service's app keeps the command as it is
    wrapped.callback = run
    return wrapped
