"""RFC 9457 problem details for every error, with French explanations for the people reading them."""
import logging

import marshmallow as ma
from flask import jsonify, request
from flask_smorest import Api
from werkzeug.exceptions import HTTPException

from .outbox import ConcurrentUpdate

log = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
# A problem's ``type`` is this base followed by the rule it names: the ``rule`` a caller passes
# (``problem(409, "…", rule="lot_not_held")``), else the status's default below. These URIs identify
# a rule for clients to compare; they are not meant to be fetched (README: "Problem types").
PROBLEM_TYPE_BASE = "https://clauses-sociales.example/problems/"
DEFAULT_RULES = {
    400: "malformed_request", 401: "authentication_required", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 409: "conflict", 410: "gone", 413: "body_too_large", 415: "unsupported_media_type",
    422: "validation_error", 428: "precondition_required", 429: "too_many_requests", 500: "internal_error",
    503: "service_unavailable",
}

TITLES_FR = {
    400: "Requête incorrecte", 401: "Authentification requise", 403: "Accès refusé",
    404: "Introuvable", 405: "Méthode non autorisée", 409: "Conflit", 413: "Contenu trop volumineux",
    415: "Type de contenu non pris en charge", 422: "Données invalides", 428: "Condition préalable requise",
    429: "Trop de requêtes", 500: "Erreur interne", 503: "Service indisponible",
}
DETAILS_FR = {
    400: "La requête est mal formée.", 404: "La ressource demandée n'existe pas.",
    405: "Cette méthode n'est pas acceptée sur cette adresse.",
    415: "Le corps de la requête doit être du JSON (Content-Type: application/json).",
    422: "Certaines données envoyées sont invalides : voir le détail par champ.",
    500: "Une erreur inattendue s'est produite ; elle a été journalisée. Réessayez plus tard.",
    503: "Le service n'est pas prêt.",
}

# Field-level messages a facilitator or a contractor reads, in French.
ma.fields.Field.default_error_messages.update({
    "required": "Champ obligatoire.",
    "null": "Ce champ ne peut pas être vide.",
    "validator_failed": "Valeur invalide.",
})
for _field, _messages in {
    ma.fields.String: {"invalid": "Texte attendu."},
    ma.fields.Integer: {"invalid": "Nombre entier attendu."},
    ma.fields.Float: {"invalid": "Nombre attendu."},
    ma.fields.Decimal: {"invalid": "Nombre décimal attendu."},
    ma.fields.Boolean: {"invalid": "Booléen attendu (true ou false)."},
    ma.fields.Date: {"invalid": "Date attendue au format AAAA-MM-JJ."},
    ma.fields.DateTime: {"invalid": "Date et heure attendues au format ISO 8601."},
    ma.fields.List: {"invalid": "Liste attendue."},
    ma.fields.Nested: {"type": "Objet attendu."},
    ma.fields.Dict: {"invalid": "Objet attendu."},
}.items():
    _field.default_error_messages = {**_field.default_error_messages, **_messages}
ma.Schema._default_error_messages = {**getattr(ma.Schema, "_default_error_messages", {}),
                                     "unknown": "Champ inconnu.", "type": "Objet JSON attendu."}


class Problem(HTTPException):
    """An HTTP error carrying a French detail and optional extra members."""

    def __init__(self, status: int, detail: str, **extra):
        self.code = status
        super().__init__(description=detail)
        self.extra = extra


def problem(status: int, detail: str, **extra) -> Problem:
    """Build a problem to ``raise``: ``raise problem(409, "Le lot est déjà attribué.")``."""
    return Problem(status, detail, **extra)


def problem_response(status: int, detail: str, **extra):
    rule = extra.get("rule") or DEFAULT_RULES.get(status)
    body = {"type": PROBLEM_TYPE_BASE + rule if rule else "about:blank", "title": TITLES_FR.get(status, "Erreur"), "status": status,
            "detail": detail, "instance": request.path, **extra}
    response = jsonify(body)
    response.status_code = status
    response.mimetype = PROBLEM_MEDIA_TYPE
    return response


class ProblemSchema(ma.Schema):
    class Meta:
        unknown = ma.INCLUDE  # documents that a problem may carry extension members (RFC 9457, 3.2)

    type = ma.fields.String(metadata={"description": "URI naming the rule: " + PROBLEM_TYPE_BASE + "<rule>"})
    title = ma.fields.String(metadata={"description": "Short French title"})
    status = ma.fields.Integer()
    detail = ma.fields.String(metadata={"description": "French explanation for the reader"})
    instance = ma.fields.String()
    errors = ma.fields.Dict(metadata={"description": "Per-field messages, for invalid data"})
    rule = ma.fields.String(metadata={"description": "The business rule refused, when one is (e.g. lot_not_held)"})


class ProblemApi(Api):
    """flask-smorest Api whose errors are problem details."""

    ERROR_SCHEMA = ProblemSchema

    def _register_error_handlers(self):
        self._app.register_error_handler(HTTPException, self.handle_http_exception)
        self._app.register_error_handler(Exception, self.handle_unexpected)

    def handle_http_exception(self, error):
        if isinstance(error, Problem):
            return problem_response(error.code, error.description, **error.extra)
        data = getattr(error, "data", None) or {}
        extra = {}
        messages = data.get("errors") or data.get("messages")
        if messages:
            # webargs nests messages by location (json, query…); one location is the common case
            messages = next(iter(messages.values())) if len(messages) == 1 else messages
            if isinstance(messages, dict):  # per-field messages only; a body-level one is the detail's
                extra["errors"] = messages
        detail = data.get("message") or DETAILS_FR.get(error.code) or TITLES_FR.get(error.code, "Erreur")
        response = problem_response(error.code, detail, **extra)
        for name, value in (data.get("headers") or {}).items():
            response.headers[name] = value
        if error.code == 405 and hasattr(error, "valid_methods") and error.valid_methods:
            response.headers["Allow"] = ", ".join(error.valid_methods)
        return response

    def handle_unexpected(self, error):
        if isinstance(error, HTTPException):
            return self.handle_http_exception(error)
        if isinstance(error, ConcurrentUpdate):  # still conflicting after the retries
            return problem_response(409, "Cette ressource a été modifiée au même moment ; réessayez.")
        # A bug: the traceback and the request id, never the request's data.
        log.exception("unexpected error", extra={"method": request.method, "endpoint": request.endpoint})
        return problem_response(500, DETAILS_FR[500])

