"""Who is calling: people with signed JWTs, contractor companies with API keys.

Every endpoint states who may call it with ``@allow(...)``; the statement is also
written into the OpenAPI document. Roles: facilitator, buyer, operator (JWT) and
contractor (the company's API key, or a JWT of one of its staff carrying its SIRET).
People are scoped to the territories listed in their token.
"""
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import wraps

import jwt
from flask import current_app, g, request
from flask_smorest import Blueprint

from . import guard  # noqa: F401 - every view uses @allow: the JSON reader is installed before one is decorated
from .problems import problem
from .settings import Settings
from .validation import siret_valid

PERSON_ROLES = ("facilitator", "buyer", "operator")
ROLES = PERSON_ROLES + ("contractor",)
ROLE_LABELS_FR = {"facilitator": "facilitateur", "buyer": "acheteur", "operator": "opérateur",
                  "contractor": "entreprise attributaire"}


@dataclass(frozen=True)
class Principal:
    subject: str
    role: str
    territories: frozenset[str]
    siret: str | None = None  # the company, for a contractor
    buyer_id: str | None = None  # the buyer organisation, for a buyer

    def covers(self, territories) -> bool:
        """True when the caller works in at least one of these territories."""
        return bool(self.territories & set(territories))


class TokenVerifier:
    """Verifies JWTs with a shared secret (local), a PEM public key or a JWKS endpoint."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._jwks = jwt.PyJWKClient(settings.jwks_url) if settings.jwks_url else None

    def verify(self, token: str) -> Principal:
        s = self.settings
        if self._jwks is not None:
            key, algorithms = self._jwks.get_signing_key_from_jwt(token).key, ["RS256", "ES256", "PS256"]
        elif s.jwt_public_key:
            key, algorithms = s.jwt_public_key, ["RS256", "ES256", "PS256"]
        else:
            key, algorithms = s.jwt_secret, ["HS256"]
        # iat is required (identity providers all set it): with exp it bounds a token's lifetime, and
        # PyJWT refuses one issued in the future.
        claims = jwt.decode(token, key, algorithms=algorithms, issuer=s.jwt_issuer, audience=s.jwt_audience,
                            options={"require": ["sub", "exp", "iat"], "verify_aud": bool(s.jwt_audience)})
        if int(claims["exp"]) - int(claims["iat"]) > s.jwt_max_lifetime_hours * 3600:
            raise problem(401, "Jeton d'authentification refusé : sa durée de validité dépasse "
                               f"{s.jwt_max_lifetime_hours:g} h. Demandez un jeton plus court.",
                          rule="token_lifetime_too_long")
        names = s.claims
        role, territories = claims.get(names.role), claims.get(names.territories)
        if role not in ROLES or not isinstance(territories, list):
            raise jwt.InvalidTokenError("role or territories claim missing")
        siret = claims.get(names.siret)
        if role == "contractor" and not (isinstance(siret, str) and siret_valid(siret)):
            # a company's staff act for one company, as its API key does: without it they would act for none
            raise jwt.InvalidTokenError("a contractor's token without a valid siret claim")
        unknown = s.region.unknown(territories)
        if unknown:  # a typo in the identity provider would otherwise open a territory of its own
            raise problem(403, "Votre jeton d'authentification cite un territoire que la plateforme ne connaît "
                               f"pas. {s.region.refusal(unknown)}")
        return Principal(subject=str(claims["sub"]), role=role, territories=frozenset(territories),
                         siret=siret if role == "contractor" else None, buyer_id=claims.get(names.buyer_id))


def issue_token(secret: str, subject: str, role: str, territories: list[str], hours: float = 12,
                issuer: str | None = None, audience: str | None = None, buyer_id: str | None = None,
                siret: str | None = None) -> str:
    """A development token signed with the shared secret (production tokens come from the IdP); a company's
    staff member (role contractor) carries the company's SIRET."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if (role == "contractor") != bool(siret):
        raise ValueError("a contractor's token, and only one, carries the company's siret")
    now = datetime.now(timezone.utc)
    claims = {"sub": subject, "role": role, "territories": territories, "iat": now,
              "exp": now + timedelta(hours=hours)}
    for name, value in (("iss", issuer), ("aud", audience), ("buyer_id", buyer_id), ("siret", siret)):
        if value:
            claims[name] = value
    return jwt.encode(claims, secret, algorithm="HS256")


# --- API keys -----------------------------------------------------------------------------
API_KEY_PREFIX = "ck"


def new_api_key() -> tuple[str, str, str]:
    """Returns (key id, the key shown once, its hash to store)."""
    key_id = secrets.token_hex(6)
    key = f"{API_KEY_PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
    return key_id, key, hash_api_key(key)


def hash_api_key(key: str) -> str:
    # The secret part has 256 bits of entropy: a plain SHA-256 cannot be brute-forced.
    return hashlib.sha256(key.encode()).hexdigest()


def api_key_id(key: str) -> str | None:
    parts = key.split("_", 2)
    return parts[1] if len(parts) == 3 and parts[0] == API_KEY_PREFIX else None


def api_key_matches(key: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_api_key(key), stored_hash)


def principal_for_api_key(key: str, find) -> Principal | None:
    """The contractor a presented key belongs to, or None when unknown, revoked or wrong.

    ``find(key_id)`` returns ``(stored hash, contractor SIRET, territories)`` of a usable key, or None.
    """
    key_id = api_key_id(key)
    found = find(key_id) if key_id else None
    if found is None or not api_key_matches(key, found[0]):
        return None
    return Principal(subject=f"api-key:{key_id}", role="contractor", territories=frozenset(found[2]),
                     siret=found[1])


# --- Flask side ---------------------------------------------------------------------------
def _authenticate() -> Principal:
    header = request.headers.get("Authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() == "bearer" and credentials:
        try:
            return current_app.extensions["token_verifier"].verify(credentials.strip())
        except (jwt.PyJWTError, RecursionError):  # a header nested deeper than json.loads goes
            raise problem(401, "Jeton d'authentification invalide ou expiré.", rule="invalid_token")
    api_key = request.headers.get("X-API-Key") or (credentials.strip() if scheme.lower() == "apikey" else "")
    if api_key:
        resolve = current_app.extensions.get("api_key_resolver")
        principal = resolve(api_key) if resolve else None
        if principal is None:
            raise problem(401, "Clé d'API inconnue ou révoquée.", rule="invalid_api_key")
        return principal
    raise problem(401, "Authentification requise : présentez un jeton (Authorization: Bearer …) "
                       "ou une clé d'API (X-API-Key).")


def current_principal() -> Principal:
    return g.principal


def allow(*roles: str):
    """Restrict an endpoint to these roles; 401 without credentials, 403 for another role."""
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles {unknown}")
    security = [{"bearerAuth": []}]  # every role has people signing in (a company's staff too)
    if "contractor" in roles:
        security.append({"apiKeyAuth": []})

    def decorator(func):
        @wraps(func)
        def wrapper(*args, **kwargs):
            principal = _authenticate()
            if principal.role not in roles:
                allowed = ", ".join(ROLE_LABELS_FR[r] for r in roles)
                raise problem(403, f"Action réservée aux profils : {allowed}.")
            g.principal = principal
            return func(*args, **kwargs)
        wrapper._allowed_roles = roles
        return Blueprint.doc(security=security, **{"x-allowed-roles": list(roles)})(wrapper)
    return decorator


def public_endpoint(func):
    """Document an endpoint anyone may call without signing in (it checks no credentials)."""
    return Blueprint.doc(security=[], **{"x-public": True})(func)


def require_territory(territories, what: str = "cette ressource") -> None:
    """403 unless the caller works in one of these territories."""
    if not g.principal.covers(territories):
        raise problem(403, f"Vous n'intervenez sur aucun des territoires de {what}.")


SECURITY_SCHEMES = {
    "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                   "description": "Facilitateurs, acheteurs, opérateurs et personnel des entreprises "
                                  "attributaires : jeton signé portant le rôle et les territoires (et, pour "
                                  "une entreprise, son SIRET)."},
    "apiKeyAuth": {"type": "apiKey", "in": "header", "name": "X-API-Key",
                   "description": "Entreprises attributaires : clé d'API remise par un facilitateur."},
}
