"""What every request goes through before a view reads it, and every answer on its way out.

Bad input is refused here, with a French 4xx problem, before anything is done with it: a body over
the service's limit (413, unread), a body that is not UTF-8 or not JSON, JSON the platform could not
store (nested too deep, an integer MongoDB cannot hold, a NUL or half of a UTF-16 pair in a text), an
address carrying such characters (400). Every JSON body of every service is read by ``read_json``:
the arguments parser of the blueprints and ``request.get_json()`` both use it.
"""
import base64
import hashlib
import io
import json
import math
import re
from urllib.parse import unquote_to_bytes

from flask import Flask, request
from flask.json.provider import DefaultJSONProvider
from flask_smorest.arguments import ArgumentsMixin
from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request
from werkzeug.exceptions import RequestEntityTooLarge

from .problems import problem, problem_response
from .storable import UNSTORABLE

MAX_JSON_DEPTH = 32  # the deepest body of the APIs nests 4 levels; parsers and encoders recurse
INT64_LIMIT = 2 ** 63  # MongoDB stores integers on 64 bits

SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}
# Only the service's own scripts and styles (the Swagger UI page loads its files from the service);
# data: images are swagger-ui's icons. Inline <style> blocks of our own HTML are allowed by hash.
CONTENT_SECURITY_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'{styles}; "
                           "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action {forms}; "
                           "frame-ancestors 'none'")
INLINE_STYLE = re.compile(r"<style[^>]*>(.*?)</style>", re.DOTALL | re.IGNORECASE)


def read_json(data: bytes | str):
    """The JSON document of a request body, or a 400 problem saying why it cannot be read."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            raise problem(400, "Le corps de la requête n'est pas du texte UTF-8 valide.",
                          rule="invalid_utf8") from None
    try:
        document = json.loads(data, parse_int=_integer, parse_float=_number, parse_constant=_not_a_number)
    except json.JSONDecodeError as exc:
        raise problem(400, f"Le corps de la requête n'est pas du JSON valide (ligne {exc.lineno}, colonne "
                           f"{exc.colno}).", rule="malformed_json") from None
    except RecursionError:
        raise _too_deep() from None
    _check_texts(document)
    return document


def _integer(text: str) -> int:
    # Checked on the digits first: Python refuses to convert more than 4,300 of them.
    if len(text) > 20 or not -INT64_LIMIT <= int(text) < INT64_LIMIT:
        raise _out_of_range()
    return int(text)


def _number(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e400 reads as infinity
        raise _out_of_range()
    return value


def _not_a_number(text: str):
    raise problem(400, f"Le corps de la requête contient {text}, qui n'est pas un nombre JSON.",
                  rule="malformed_json")


def _out_of_range():
    return problem(400, "Le corps de la requête contient un nombre hors des limites que la plateforme "
                        f"enregistre (entiers de -{INT64_LIMIT} à {INT64_LIMIT - 1}).", rule="number_out_of_range")


def _too_deep():
    return problem(400, f"Le corps de la requête imbrique plus de {MAX_JSON_DEPTH} niveaux d'objets ou de listes.",
                   rule="json_too_deep")


def _check_texts(document) -> None:
    """Every key and string storable; nesting bounded. Iterative: the depth is what is checked."""
    pending = [(document, 1, ())]
    while pending:
        value, depth, path = pending.pop()
        if isinstance(value, str):
            if UNSTORABLE.search(value):
                raise _unstorable(path)
        elif isinstance(value, (dict, list)):
            if depth > MAX_JSON_DEPTH:
                raise _too_deep()
            for key, item in value.items() if isinstance(value, dict) else enumerate(value):
                if isinstance(key, str) and UNSTORABLE.search(key):
                    raise _unstorable(path, "un nom de champ")
                pending.append((item, depth + 1, (*path, key)))


def _unstorable(path: tuple, what: str = "une valeur") -> Exception:
    where = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in path).lstrip(".")
    return problem(400, f"Le corps de la requête contient, dans {what}{f' de « {where} »' if where else ''}, un "
                        "caractère que la plateforme ne peut pas enregistrer (caractère nul U+0000 ou moitié "
                        "isolée d'une paire UTF-16).", rule="unstorable_character")


class _Parser(FlaskParser):
    """The blueprints' arguments parser: JSON bodies through ``request.get_json``, i.e. ``read_json``."""

    def _raw_load_json(self, req):
        if not is_json_request(req) or not req.get_data(cache=True):
            return core.missing  # no body: the schema says whether one was required
        return req.get_json()


# flask-smorest's blueprints share one parser, bound when their views are decorated: plumbing.auth,
# which every view uses, imports this module first.
ArgumentsMixin.ARGUMENTS_PARSER = _Parser()


class JSONProvider(DefaultJSONProvider):
    ensure_ascii = False  # French text stays readable in responses
    sort_keys = False

    def loads(self, s, **kwargs):
        return read_json(s)


def guard_requests(app: Flask, max_request_bytes: int, forms: bool = False) -> None:
    """Refuse what cannot be read before any view runs; put the security headers on every answer.
    ``forms``: the app's pages post forms to itself (the web application); the APIs post none."""
    app.json = JSONProvider(app)

    limit = (f"{max_request_bytes / 1_048_576:.3g} Mo" if max_request_bytes >= 1_048_576
             else f"{max_request_bytes / 1024:.3g} ko")

    def too_large(_error=None):
        return problem_response(413, f"Le corps de la requête dépasse la taille que ce service accepte ({limit}).")

    app.register_error_handler(RequestEntityTooLarge, too_large)  # werkzeug's own limits on forms

    @app.before_request
    def refuse_unreadable():
        environ = request.environ
        if environ.get("CONTENT_LENGTH"):
            if (request.content_length or 0) > max_request_bytes:
                return too_large()  # at once, without reading a byte of it
        elif environ.get("wsgi.input_terminated"):
            # A chunked body (gunicorn): read here, up to one byte past the limit. Flask's MAX_CONTENT_LENGTH
            # is not used: werkzeug would hand the views the first bytes of such a body as if they were all.
            body = environ["wsgi.input"].read(max_request_bytes + 1)
            if len(body) > max_request_bytes:
                return too_large()
            environ["wsgi.input"], environ["CONTENT_LENGTH"] = io.BytesIO(body), str(len(body))
        try:
            address = (environ.get("PATH_INFO", "").encode("latin-1")
                       + unquote_to_bytes(request.query_string)).decode("utf-8")
        except UnicodeError:
            address = "\x00"
        if "\x00" in address:
            raise problem(400, "L'adresse de la requête n'est pas du texte UTF-8 valide ou contient un caractère "
                               "nul.", rule="malformed_address", instance=request.path.replace("\x00", "\ufffd"))

    @app.after_request
    def secure(response):
        response.headers.update(SECURITY_HEADERS)
        if forms:  # a form's CSRF check compares the Referer with the site (HTTPS): sent to this site only
            response.headers["Referrer-Policy"] = "same-origin"
        if request.path.startswith("/api/"):  # personal data is everywhere in the APIs
            response.headers["Cache-Control"] = "no-store"
        response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY.format(
            styles=_inline_styles(response), forms="'self'" if forms else "'none'")
        return response


def _inline_styles(response) -> str:
    """The hashes of an HTML answer's own <style> blocks (ours: templates escape what they insert)."""
    if response.mimetype != "text/html" or response.direct_passthrough or response.is_streamed:
        return ""
    hashes = (base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
              for css in INLINE_STYLE.findall(response.get_data(as_text=True)))
    return "".join(f" 'sha256-{digest}'" for digest in hashes)
