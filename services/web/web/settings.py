"""The web application's settings: the common ones (tokens, region, environment) and its own."""
from marshmallow.validate import OneOf, Range
from plumbing.settings import Settings, SettingsError, load_settings

API_SERVICES = ("markets", "participants", "hours", "notifications", "observatory")
# The local stack's addresses (deploy/local/stack.py, base port 8100): what a bare `flask run` talks to.
LOCAL_URLS = {"markets": 8110, "participants": 8111, "hours": 8112, "notifications": 8113, "observatory": 8118}
DEVELOPMENT_SESSION_SECRET = "development-only-session-secret-do-not-use-in-production"


def load() -> Settings:
    extra = {f"{service}_url": _url_reader(service) for service in API_SERVICES}
    extra.update({
        # signs the session cookie (the person's token lives in it)
        "session_secret": lambda env: env.str("WEB_SESSION_SECRET", None),
        # a page waits at most this long for a service, then says that part is unavailable
        "api_timeout_s": lambda env: env.float("WEB_API_TIMEOUT_S", 5, validate=Range(min=0.1, max=60)),
        "session_hours": lambda env: env.float("WEB_SESSION_HOURS", 8, validate=Range(min=0.1, max=24)),
        # OpenID Connect with the region's identity provider (production sign-in)
        "oidc_metadata_url": lambda env: env.str("OIDC_METADATA_URL", None),
        "oidc_client_id": lambda env: env.str("OIDC_CLIENT_ID", None),
        "oidc_client_secret": lambda env: env.str("OIDC_CLIENT_SECRET", None),
        "oidc_scopes": lambda env: env.str("OIDC_SCOPES", "openid profile email"),
        # which of the provider's tokens the services verify (AUTH_JWKS_URL): its access token or ID token
        "oidc_token": lambda env: env.str("OIDC_TOKEN", "access_token", validate=OneOf(["access_token", "id_token"])),
        # how many proxies (gateway, ingress) stand before the app: their X-Forwarded-* headers are trusted
        "proxies": lambda env: env.int("WEB_PROXIES", 0, validate=Range(min=0, max=5)),
        "oidc_name": lambda env: env.str("OIDC_PROVIDER_NAME", "le fournisseur d'identité de la région"),
    })
    settings = load_settings("web", extra)
    _check(settings)
    return settings


def _url_reader(service: str):
    return lambda env: env.str(f"{service.upper()}_URL", f"http://127.0.0.1:{LOCAL_URLS[service]}").rstrip("/")


def _check(settings: Settings) -> None:
    extra, development = settings.extra, settings.environment == "development"
    if not extra["session_secret"]:
        if not development:
            raise SettingsError("invalid environment for the web service: set WEB_SESSION_SECRET "
                                "(32 bytes or more) to sign the session cookies")
        extra["session_secret"] = DEVELOPMENT_SESSION_SECRET
    elif len(extra["session_secret"].encode()) < 32 or (
            not development and extra["session_secret"] == DEVELOPMENT_SESSION_SECRET):
        raise SettingsError("invalid environment for the web service: WEB_SESSION_SECRET must be a secret of "
                            "32 bytes or more, not the development one")
    if not development and not (extra["oidc_metadata_url"] and extra["oidc_client_id"]):
        raise SettingsError("invalid environment for the web service: set OIDC_METADATA_URL and OIDC_CLIENT_ID "
                            "(people sign in with the region's identity provider outside development)")
