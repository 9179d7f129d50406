"""Settings read from environment variables and validated once, at start-up."""
from dataclasses import dataclass, field

from environs import Env, EnvValidationError
from marshmallow.validate import Length, OneOf, Range

from .region import Region, RegionError, load_region, set_current


class SettingsError(RuntimeError):
    """Raised at start-up when the environment does not describe a runnable service."""


ENVIRONMENTS = ("development", "production")
# The shared secret the local stack signs tokens with (deploy/local/stack.py, the README's examples).
DEVELOPMENT_JWT_SECRET = "local-development-only-secret-not-for-production"
# It and the one docker-compose.yml used to default to are public: anyone can sign tokens with them.
PUBLISHED_JWT_SECRETS = frozenset({DEVELOPMENT_JWT_SECRET, "dev-only-insecure-jwt-secret-not-for-production"})
MIN_JWT_SECRET_BYTES = 32  # HS256 wants a key as long as its hash (RFC 7518, 3.2)


@dataclass(frozen=True)
class ClaimNames:
    """Where a token carries who the person is: identity providers name these claims their own way
    (Auth0's are URLs, for one), so each name is a setting; a name is a top-level claim, taken whole."""
    role: str = "role"
    territories: str = "territories"
    siret: str = "siret"  # a company's staff: the company
    buyer_id: str = "buyer_id"  # a buyer's staff: the buyer organisation


@dataclass(frozen=True)
class Settings:
    service: str
    mongodb_url: str
    mongodb_db: str
    kafka_bootstrap_servers: list[str]
    kafka_topic_partitions: int
    kafka_replication_factor: int
    kafka_session_timeout_ms: int
    kafka_heartbeat_interval_ms: int
    jwt_secret: str | None
    jwt_public_key: str | None
    jwks_url: str | None
    jwt_issuer: str | None
    jwt_audience: str | None
    log_level: str
    relay_interval_s: float
    topic_prefix: str
    region: Region  # its territories, partner structures and defaults (REGION_FILE)
    environment: str = "production"  # "development": published secrets and dev-token allowed
    max_request_bytes: int = 10 * 1024 * 1024  # larger bodies get a 413 before being read
    jwt_max_lifetime_hours: float = 24  # a token valid for longer is refused
    claims: ClaimNames = ClaimNames()
    metrics_host: str = "0.0.0.0"
    metrics_port: int = 0  # a worker's Prometheus metrics over HTTP; 0: none
    extra: dict = field(default_factory=dict)

    def events_topic(self, service: str) -> str:
        """The topic a service publishes its events on."""
        return f"{self.topic_prefix}{service}.events"

    @property
    def topic(self) -> str:
        return self.events_topic(self.service)

    @property
    def dead_letter_topic(self) -> str:
        """Where this service's consumers put the events they cannot apply."""
        return f"{self.topic_prefix}{self.service}.deadletter"

    @property
    def consumer_group(self) -> str:
        return f"{self.topic_prefix}{self.service}"


def load_settings(service: str, extra=None) -> Settings:
    """Read the common settings and the service's own (``extra``: name -> reader).

    Every problem is reported at once, so an operator fixes the environment in one go.
    ``extra`` maps a setting name to a function ``(env) -> value``.
    """
    env = Env(eager=False, expand_vars=True)
    values = dict(
        service=service,
        mongodb_url=env.str("MONGODB_URL", "mongodb://127.0.0.1:27017"),
        mongodb_db=env.str("MONGODB_DB", service),
        kafka_bootstrap_servers=env.list("KAFKA_BOOTSTRAP_SERVERS", ["127.0.0.1:9092"]),
        kafka_topic_partitions=env.int("KAFKA_TOPIC_PARTITIONS", 3, validate=Range(min=1)),
        kafka_replication_factor=env.int("KAFKA_REPLICATION_FACTOR", 1, validate=Range(min=1)),
        kafka_session_timeout_ms=env.int("KAFKA_SESSION_TIMEOUT_MS", 6000),
        kafka_heartbeat_interval_ms=env.int("KAFKA_HEARTBEAT_INTERVAL_MS", 1000),
        jwt_secret=env.str("AUTH_JWT_SECRET", None),
        jwt_public_key=env.str("AUTH_JWT_PUBLIC_KEY", None),
        jwks_url=env.str("AUTH_JWKS_URL", None),
        jwt_issuer=env.str("AUTH_JWT_ISSUER", None),
        jwt_audience=env.str("AUTH_JWT_AUDIENCE", None),
        jwt_max_lifetime_hours=env.float("AUTH_JWT_MAX_LIFETIME_HOURS", 24, validate=Range(min=0, min_inclusive=False)),
        claims=ClaimNames(role=env.str("AUTH_CLAIM_ROLE", "role", validate=Length(min=1)),
                          territories=env.str("AUTH_CLAIM_TERRITORIES", "territories", validate=Length(min=1)),
                          siret=env.str("AUTH_CLAIM_SIRET", "siret", validate=Length(min=1)),
                          buyer_id=env.str("AUTH_CLAIM_BUYER", "buyer_id", validate=Length(min=1))),
        # Production unless told otherwise: a forgotten setting must not open the development shortcuts.
        environment=env.str("ENVIRONMENT", "production", validate=OneOf(ENVIRONMENTS)),
        max_request_bytes=env.int("MAX_REQUEST_BYTES", 10 * 1024 * 1024, validate=Range(min=1024)),
        log_level=env.str("LOG_LEVEL", "INFO", validate=OneOf(["DEBUG", "INFO", "WARNING", "ERROR"])),
        relay_interval_s=env.float("OUTBOX_RELAY_INTERVAL_S", 0.2),
        # Lets several regions (or test runs) share one Kafka cluster without seeing each other.
        topic_prefix=env.str("KAFKA_TOPIC_PREFIX", ""),
        metrics_host=env.str("METRICS_HOST", "0.0.0.0"),
        metrics_port=env.int("METRICS_PORT", 0, validate=Range(min=0, max=65535)),
        extra={name: read(env) for name, read in (extra or {}).items()},
    )
    region_file = env.str("REGION_FILE", None)
    try:
        env.seal()
    except EnvValidationError as exc:
        problems = "; ".join(f"{name}: {', '.join(msgs)}" for name, msgs in exc.error_messages.items())
        raise SettingsError(f"invalid environment for the {service} service: {problems}") from None
    if not (values["jwt_secret"] or values["jwt_public_key"] or values["jwks_url"]):
        raise SettingsError(
            f"invalid environment for the {service} service: set one of AUTH_JWT_SECRET "
            "(local development), AUTH_JWT_PUBLIC_KEY or AUTH_JWKS_URL to verify tokens")
    _refuse_weak_secret(service, values["environment"], values["jwt_secret"])
    values["region"] = _region(service, region_file)
    set_current(values["region"])  # the process serves this region from now on
    return Settings(**values)


def _refuse_weak_secret(service: str, environment: str, secret: str | None) -> None:
    """Outside development, a secret anyone can read or guess would let anyone sign tokens."""
    if environment == "development" or secret is None:
        return
    if secret in PUBLISHED_JWT_SECRETS:
        reason = "AUTH_JWT_SECRET is the published development secret"
    elif len(secret.encode()) < MIN_JWT_SECRET_BYTES:
        reason = f"AUTH_JWT_SECRET is shorter than {MIN_JWT_SECRET_BYTES} bytes"
    else:
        return
    raise SettingsError(
        f"invalid environment for the {service} service: {reason}; set a random one "
        "(python3 -c 'import secrets; print(secrets.token_urlsafe(48))'), or AUTH_JWKS_URL, "
        "or ENVIRONMENT=development on a development machine")


def _region(service: str, path: str | None) -> Region:
    """The region file, required: without it a typo in a territory would go unnoticed."""
    if not path:
        raise SettingsError(f"invalid environment for the {service} service: set REGION_FILE to the "
                            "region's YAML file (deploy/regions/aude.yaml for instance)")
    try:
        return load_region(path)
    except RegionError as exc:
        raise SettingsError(f"invalid region file {path} for the {service} service: {exc}") from None

