"""Application factory of the web application: pages in French, rendered here, data from the services."""
from datetime import timedelta

from flask import Flask, Response, abort, flash, redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFError, CSRFProtect
from plumbing.guard import guard_requests
from plumbing.logs import configure_logging
from plumbing.settings import Settings
from plumbing.auth import TokenVerifier
from plumbing import metrics
from plumbing.web import track_requests
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from . import auth, filters
from . import settings as web_settings
from .pages import PAGES, register as register_page_globals
from .services import Services, SignInAgain
from .settings import API_SERVICES

ERROR_PAGES = {
    400: ("Demande incorrecte", "La demande n'a pas pu être lue. Revenez à la page précédente et réessayez."),
    403: ("Accès refusé", "Cette page n'est pas ouverte à votre rôle ou à vos territoires."),
    404: ("Page introuvable", "Cette adresse ne correspond à aucune page. Vérifiez-la ou revenez à l'accueil."),
    405: ("Action impossible", "Cette action n'est pas possible à cette adresse."),
    413: ("Fichier trop volumineux", "Le fichier ou le formulaire envoyé dépasse la taille acceptée."),
    500: ("Erreur inattendue", "Une erreur inattendue s'est produite ; elle a été journalisée. Réessayez plus tard."),
}


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or web_settings.load()
    configure_logging("web", settings.log_level)
    app = Flask("web", root_path=__file__.rsplit("/", 1)[0])
    development = settings.environment == "development"
    app.config.update(
        SECRET_KEY=settings.extra["session_secret"],
        SESSION_COOKIE_NAME="clauses_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=not development,  # plain HTTP on 127.0.0.1 in development only
        PERMANENT_SESSION_LIFETIME=timedelta(hours=settings.extra["session_hours"]),
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session
        MAX_FORM_MEMORY_SIZE=1024 * 1024,
    )
    app.extensions["settings"] = settings
    app.extensions["token_verifier"] = TokenVerifier(settings)
    app.extensions["services"] = Services({s: settings.extra[f"{s}_url"] for s in API_SERVICES},
                                          settings.extra["api_timeout_s"])
    track_requests(app)  # first: every answer, refusals included, is counted and logged with its request id
    CSRFProtect(app)
    guard_requests(app, settings.max_request_bytes, forms=True)
    auth.init_app(app)
    filters.register(app)
    register_page_globals(app)
    app.register_blueprint(auth.bp)
    app.register_blueprint(metrics.blueprint)  # /metrics: requests per page and their time, as every service
    for page in PAGES:
        app.register_blueprint(page)
    _handle_errors(app)
    if settings.extra["proxies"]:  # the address people use (https, the public host) for OpenID Connect's return
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.extra["proxies"], x_proto=settings.extra["proxies"],
                                x_host=settings.extra["proxies"])

    @app.before_request
    def metrics_for_prometheus_only():
        # Prometheus reads each pod directly; a request relayed by the gateway or the Ingress is a visitor's
        if request.path == "/metrics" and request.headers.get("X-Forwarded-For"):
            abort(404)

    @app.after_request
    def private(response: Response) -> Response:
        if not request.path.startswith("/static/"):  # pages show personal data: never kept by a cache
            response.headers["Cache-Control"] = "no-store"
        return response

    @app.get("/health/live")
    def live():
        return {"status": "ok"}

    app.add_url_rule("/health/ready", "ready", live)  # the web app needs nothing to start answering
    return app


def _handle_errors(app: Flask) -> None:
    @app.errorhandler(SignInAgain)
    def sign_in_again(_error):
        from flask import session
        session.clear()
        flash("Votre session a expiré : reconnectez-vous.", "info")
        return redirect(url_for("auth.sign_in", next=request.full_path.rstrip("?")))

    @app.errorhandler(CSRFError)
    def csrf(_error):
        return _error_page(400, "Le formulaire a expiré ou ne vient pas de cette application : rechargez la page "
                                "et recommencez.")

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        return _error_page(error.code or 500)

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        app.logger.exception("unexpected error", extra={"endpoint": request.endpoint})
        return _error_page(500)


def _error_page(status: int, detail: str | None = None):
    title, text = ERROR_PAGES.get(status, ERROR_PAGES[400] if status < 500 else ERROR_PAGES[500])
    return render_template("pages/error.html", title=title, detail=detail or text, status=status), status
