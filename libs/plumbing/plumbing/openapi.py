"""What completes every service's OpenAPI document: each operation lists the errors it can answer, as
problem details (``application/problem+json``), instead of one ``default``; and page numbers are bounded.

flask-smorest documents a 422 and a ``default`` error as ``application/json``; generated clients and
schemathesis then cannot tell which status codes an operation answers, nor read the errors' media type.
"""
import flask_smorest.pagination
import marshmallow as ma
from apispec import BasePlugin
from apispec.ext.marshmallow import MarshmallowPlugin

from .problems import PROBLEM_MEDIA_TYPE, TITLES_FR, ProblemSchema
from .validation import MAX_PAGE

WRITES = ("post", "put", "patch", "delete")


def error_statuses(method: str, operation: dict, path: str) -> set[int]:
    """The errors an operation can answer, from what it takes and who may call it."""
    statuses = {400}  # a request that cannot be read (bad encoding, malformed header…)
    if operation.get("x-allowed-roles"):
        statuses |= {401, 403}
    if "{" in path:
        statuses.add(404)  # what the path names does not exist (or is not the caller's to know)
    if "requestBody" in operation:
        statuses |= {413, 415, 422}
    if any(p.get("in") == "query" for p in operation.get("parameters", [])):
        statuses.add(422)
    if method in WRITES:
        statuses.add(409)  # the state forbids it, or someone changed it at the same moment
    return statuses


def exclusive_bounds(self, field, ret, **kwargs) -> dict:
    """apispec writes a Range's bounds as inclusive; an exclusive one (a share above 0) says so in 3.1."""
    attributes = {}
    for validator in field.validators:
        if isinstance(validator, ma.validate.Range):
            if validator.min is not None and not validator.min_inclusive and "minimum" in ret:
                attributes["exclusiveMinimum"] = ret.pop("minimum")
            if validator.max is not None and not validator.max_inclusive and "maximum" in ret:
                attributes["exclusiveMaximum"] = ret.pop("maximum")
    return attributes


def _problem_response(description: str, schema) -> dict:
    return {"description": description, "content": {PROBLEM_MEDIA_TYPE: {"schema": schema}}}


class ContractPlugin(BasePlugin):
    """apispec plugin run on each path after flask-smorest's: the error responses of each operation."""

    def init_spec(self, spec):
        self.spec = spec
        for plugin in spec.plugins:
            if isinstance(plugin, MarshmallowPlugin):
                plugin.converter.add_attribute_function(exclusive_bounds)

    def operation_helper(self, path=None, operations=None, **kwargs):
        for method, operation in (operations or {}).items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            responses = operation.setdefault("responses", {})
            responses.pop("default", None)  # every status an operation answers is listed instead
            documented = {int(status) for status in responses}
            for status in error_statuses(method, operation, path or "") - documented:
                responses[status] = None
            for status, response in list(responses.items()):
                if int(status) >= 400:
                    responses[status] = self._error(int(status), response)

    def _error(self, status: int, response) -> dict | str:
        """An error response: this operation's own description if it has one, problem details always."""
        name = f"PROBLEM_{status}"
        if name not in self.spec.components.responses:  # the marshmallow plugin registers the Problem schema
            self.spec.components.response(name, _problem_response(TITLES_FR.get(status, "Erreur"), ProblemSchema))
        if isinstance(response, dict) and response.get("description") and "content" not in response:
            return _problem_response(response["description"], {"$ref": "#/components/schemas/Problem"})
        return name


# flask-smorest's page parameter has no maximum: page=464672889948629312 reached the database as a skip it
# could not hold (a 500). Its schema factory is wrapped so that every paginated list bounds it.
_page_schema_factory = flask_smorest.pagination._pagination_parameters_schema_factory


def _bounded_page_schema_factory(def_page, def_page_size, def_max_page_size):
    class BoundedPagination(_page_schema_factory(def_page, def_page_size, def_max_page_size)):
        page = ma.fields.Integer(load_default=def_page, validate=ma.validate.Range(
            min=1, max=MAX_PAGE, error=f"Numéro de page attendu de 1 à {MAX_PAGE}."))
        page_size = ma.fields.Integer(load_default=def_page_size, validate=ma.validate.Range(
            min=1, max=def_max_page_size, error=f"Taille de page attendue de 1 à {def_max_page_size}."))

    return BoundedPagination


flask_smorest.pagination._pagination_parameters_schema_factory = _bounded_page_schema_factory
