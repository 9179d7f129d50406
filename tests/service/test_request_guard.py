"""What every service does with a request it cannot read, a token it must not trust, and what every
answer carries: a French 4xx problem naming its rule and nothing written; security headers, also under
gunicorn."""
import base64
import hashlib
import http.client
import importlib
import io
import json
import re
import socket
import time

import jwt
import pymongo
import pytest

from stack import StackConfig, wait_for_port
from support import TEST_JWT_SECRET, Processes, free_port_block

PROBLEMS = "https://clauses-sociales.example/problems/"
AUDE = "aude-departement"
SIRET = "73282932000074"
# Per service: what a facilitator creates, where, and a reading that shows whether it was stored.
CREATIONS = {
    "markets": ("/api/v1/buyers", {"name": "Département de l'Aude", "siret": "22000111000018",
                                   "buyer_type": "departement", "territory": AUDE}),
    "participants": ("/api/v1/participants", {
        "territory": AUDE, "first_name": "Yasmina", "last_name": "Benali-Roussel", "birth_date": "1990-06-15",
        "sex": "female", "commune": "Carcassonne", "qpv": True}),
    "hours": ("/api/v1/contractors", {"siret": SIRET, "name": "BTP Aude", "territory": AUDE}),
    "notifications": ("/api/v1/recipients", {"territory": AUDE, "name": "Guichet", "email": "guichet@example.org"}),
}
READINGS = {"markets": "/api/v1/buyers", "participants": f"/api/v1/participants/statistics?territory={AUDE}",
            "hours": f"/api/v1/contractors/{SIRET}", "notifications": "/api/v1/recipients"}


def stored(client, service: str, headers: dict) -> bool:
    reading = client.get(READINGS[service], headers=headers)
    if service == "hours":
        return reading.status_code == 200
    return bool(reading.json["participants"] if service == "participants" else reading.json)


ONE = {"markets": "/api/v1/buyers/{}", "participants": "/api/v1/participants/{}", "hours": "/api/v1/contractors/{}",
       "notifications": "/api/v1/recipients/{}"}


def with_name(body: dict, name_json: bytes) -> bytes:
    """The valid body of a creation whose "name" (or "first_name") is the given raw JSON."""
    field = "first_name" if "first_name" in body else "name"
    return json.dumps({**body, field: "@"}).encode().replace(b'"@"', name_json)


# The reproductions of issue 12, each refused by the rule the problem's type names.
UNREADABLE = {
    "nested 100,000 levels": (lambda body: with_name(body, b"[" * 100_000 + b"]" * 100_000), "json_too_deep"),
    "nested 33 levels": (lambda body: with_name(body, b"[" * 33 + b"]" * 33), "json_too_deep"),
    "a 5,000-digit integer": (lambda body: with_name(body, b"9" * 5000), "number_out_of_range"),
    "an integer MongoDB cannot hold": (lambda body: with_name(body, b"9223372036854775808"), "number_out_of_range"),
    "a number beyond floats": (lambda body: with_name(body, b"1e400"), "number_out_of_range"),
    "NaN": (lambda body: with_name(body, b"NaN"), "malformed_json"),
    "a lone surrogate in a text": (lambda body: with_name(body, b'"A\\ud800"'), "unstorable_character"),
    "invalid UTF-8": (lambda body: with_name(body, b'"A\xff\xfe"'), "invalid_utf8"),
    "a NUL in a text": (lambda body: with_name(body, b'"A\\u0000B"'), "unstorable_character"),
    "a NUL in a field name": (lambda body: json.dumps({**body, "na\x00me": "x"}).encode(), "unstorable_character"),
    "not JSON": (lambda body: json.dumps(body).encode()[:-1], "malformed_json"),
}


def client_of(service_env, service: str, **env):
    service_env(service, **env)
    return importlib.import_module(f"{service}.app").create_app().test_client()


def token(**claims) -> str:
    now = int(time.time())
    return jwt.encode({"sub": "claire", "role": "facilitator", "territories": [AUDE], "iat": now, "exp": now + 3600,
                       **claims}, TEST_JWT_SECRET, algorithm="HS256")


def bearer_of(raw: str) -> dict:
    return {"Authorization": f"Bearer {raw}"}


def assert_problem(response, status: int, rule: str):
    assert response.status_code == status, response.get_data()[:300]
    assert response.mimetype == "application/problem+json"
    assert response.json["type"] == PROBLEMS + rule
    assert response.json["status"] == status and response.json["instance"]
    return response.json["detail"]


@pytest.mark.parametrize("service", CREATIONS)
def test_a_body_that_cannot_be_read_or_stored_is_refused_in_french_and_nothing_is_written(service_env, auth,
                                                                                          service):
    client = client_of(service_env, service)
    path, body = CREATIONS[service]
    facilitator = auth("facilitator", AUDE)

    for case, (make, rule) in UNREADABLE.items():
        refused = client.post(path, data=make(body), headers={**facilitator, "Content-Type": "application/json"})
        detail = assert_problem(refused, 400, rule)
        assert detail.startswith("Le corps de la requête "), (case, detail)

    assert not stored(client, service, facilitator)
    assert client.post(path, json=body, headers=facilitator).status_code == 201  # the same body, readable
    assert stored(client, service, facilitator)


@pytest.mark.parametrize("service", CREATIONS)
def test_an_address_with_a_nul_or_invalid_utf8_is_refused(service_env, auth, service):
    client = client_of(service_env, service)
    facilitator = auth("facilitator", AUDE)
    one = ONE[service]

    # What a WSGI server hands over for /…/%ED%A0%80 (a UTF-16 surrogate, UTF-8-encoded) and /…/%FF
    for raw_id in ("\xed\xa0\x80", "\xff"):
        response = client.get(one.format("x"), headers=facilitator,
                              environ_overrides={"PATH_INFO": one.format(raw_id)})
        assert_problem(response, 400, "malformed_address")
    assert_problem(client.get(one.format("a%00b"), headers=facilitator), 400, "malformed_address")
    detail = assert_problem(client.get(f"{CREATIONS[service][0]}?territory=%00", headers=facilitator), 400,
                            "malformed_address")
    assert detail == "L'adresse de la requête n'est pas du texte UTF-8 valide ou contient un caractère nul."


def test_a_body_over_the_limit_gets_413_before_being_read(service_env, auth):
    client = client_of(service_env, "markets", MAX_REQUEST_BYTES="2048")
    path, body = CREATIONS["markets"]
    facilitator = auth("facilitator", AUDE)
    big = {**body, "name": "B" * 3000}

    refused = client.post(path, json=big, headers=facilitator)
    assert_problem(refused, 413, "body_too_large")
    assert refused.json["detail"] == "Le corps de la requête dépasse la taille que ce service accepte (2 ko)."
    # without a length, as chunked: refused once the limit is read
    chunked = client.post(path, input_stream=io.BytesIO(json.dumps(big).encode()),
                          content_type="application/json", headers=facilitator,
                          environ_overrides={"wsgi.input_terminated": True})
    assert_problem(chunked, 413, "body_too_large")
    assert not stored(client, "markets", facilitator)


def test_tokens_forged_unsigned_expired_or_too_long_lived_are_refused(service_env):
    client = client_of(service_env, "markets")
    markets = "/api/v1/markets"
    assert client.get(markets, headers=bearer_of(token())).status_code == 200

    valid = token()
    header, payload, _signature = valid.split(".")
    unsigned = jwt.encode(jwt.decode(valid, options={"verify_signature": False}), None, algorithm="none")
    refused = {
        "forged signature": f"{header}.{payload}.{jwt.encode({'x': 1}, 'another-secret-of-32-bytes-or-more!').split('.')[2]}",
        "signed with another secret": jwt.encode(jwt.decode(valid, options={"verify_signature": False}),
                                                 "another-secret-of-32-bytes-or-more!", algorithm="HS256"),
        "alg none": unsigned,
        "expired": token(iat=int(time.time()) - 7200, exp=int(time.time()) - 3600),
        "without iat": jwt.encode({"sub": "claire", "role": "facilitator", "territories": [AUDE],
                                   "exp": int(time.time()) + 3600}, TEST_JWT_SECRET, algorithm="HS256"),
        "issued in the future": token(iat=int(time.time()) + 3600, exp=int(time.time()) + 7200),
        "a header nested 3,000 levels": ".".join([
            base64.urlsafe_b64encode(b'{"alg":"HS256","x":' + b"[" * 3000 + b"]" * 3000 + b"}").decode().rstrip("="),
            payload, "c2ln"]),
    }
    for case, raw in refused.items():
        detail = assert_problem(client.get(markets, headers=bearer_of(raw)), 401, "invalid_token")
        assert detail == "Jeton d'authentification invalide ou expiré.", case

    century = token(exp=int(time.time()) + 100 * 365 * 86400)
    detail = assert_problem(client.get(markets, headers=bearer_of(century)), 401, "token_lifetime_too_long")
    assert detail == ("Jeton d'authentification refusé : sa durée de validité dépasse 24 h. "
                      "Demandez un jeton plus court.")
    assert client.get(markets, headers=bearer_of(token(exp=int(time.time()) + 24 * 3600))).status_code == 200
    shorter = client_of(service_env, "markets", AUTH_JWT_MAX_LIFETIME_HOURS="0.5")
    assert_problem(shorter.get(markets, headers=bearer_of(token())), 401, "token_lifetime_too_long")


def test_the_cli_refuses_development_tokens_outside_development_and_beyond_the_longest_lifetime(service_env):
    app = importlib.import_module("markets.app").create_app
    service_env("markets")
    too_long = app().test_cli_runner().invoke(args=["dev-token", "--role", "operator", "--territory", AUDE,
                                                    "--hours", "25"])
    assert too_long.exit_code == 1
    assert "--hours: at most 24 (AUTH_JWT_MAX_LIFETIME_HOURS)" in too_long.output

    service_env("markets", ENVIRONMENT="production")
    refused = app().test_cli_runner().invoke(args=["dev-token", "--role", "operator", "--territory", AUDE])
    assert refused.exit_code == 1
    assert "dev-token works only with ENVIRONMENT=development" in refused.output


@pytest.mark.parametrize("service", CREATIONS)
def test_every_answer_carries_the_security_headers_and_api_answers_are_not_stored(service_env, auth, service):
    client = client_of(service_env, service)
    answers = [client.get(READINGS[service], headers=auth("facilitator", AUDE)),
               client.get(READINGS[service]), client.get("/api/v1/nothing-here"),
               client.get("/health/live"), client.get(f"/docs/{service}/openapi.json")]

    for answer in answers:
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert answer.headers["Referrer-Policy"] == "no-referrer"
        assert answer.headers["Content-Security-Policy"].startswith("default-src 'none'; script-src 'self'; ")
    assert [answer.headers.get("Cache-Control") for answer in answers] == ["no-store"] * 3 + [None] * 2
    assert answers[1].json["type"] == PROBLEMS + "authentication_required"
    assert answers[2].json["type"] == PROBLEMS + "not_found"


@pytest.mark.parametrize("service", CREATIONS)
def test_the_browsable_docs_run_under_the_strict_policy_from_the_services_own_files(service_env, service):
    client = client_of(service_env, service)
    page = client.get(f"/docs/{service}/")

    assert page.status_code == 200 and page.mimetype == "text/html"
    assert page.headers["Content-Security-Policy"] == (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
    html = page.get_data(as_text=True)
    assert not re.search(r"<script(?![^>]*\bsrc=)|<style|\sstyle=|\son\w+=", html)  # nothing inline
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources == ["swagger-ui/swagger-ui.css", "swagger-ui/swagger-ui-bundle.js", "swagger-ui-init.js"]
    for source in sources:  # relative: from this service, also behind the gateway
        assert client.get(f"/docs/{service}/{source}").status_code == 200, source
    script = client.get(f"/docs/{service}/swagger-ui-init.js")
    assert script.mimetype == "text/javascript" and '"openapi.json"' in script.text
    assert client.get(f"/docs/{service}/openapi.json").json["paths"]


def test_the_participants_html_export_keeps_its_own_style_and_nothing_else(service_env, auth):
    client = client_of(service_env, "participants")
    facilitator = auth("facilitator", AUDE)
    path, body = CREATIONS["participants"]
    created = client.post(path, json={**body, "last_name": "<style>body{display:none}</style>"},
                          headers=facilitator).json

    document = client.get(f"/api/v1/participants/{created['id']}/export.html", headers=facilitator)
    assert document.status_code == 200 and document.headers["Cache-Control"] == "no-store"
    styles = re.findall(r"<style>(.*?)</style>", document.get_data(as_text=True), re.DOTALL)
    assert len(styles) == 1  # the template's; the name's is escaped
    digest = base64.b64encode(hashlib.sha256(styles[0].encode()).digest()).decode()
    assert f"style-src 'self' 'sha256-{digest}';" in document.headers["Content-Security-Policy"]
    assert "script-src 'self';" in document.headers["Content-Security-Policy"]


def test_under_gunicorn_no_banner_and_a_body_over_the_limit_is_refused_unread(infra, isolation, tmp_path):
    """The local stack's web command (gunicorn, plumbing.gunicorn_config) with a 4 kB limit, over raw HTTP."""
    config = StackConfig(data_dir=tmp_path, base_port=free_port_block(), topic_prefix=f"t{isolation}.",
                         external_kafka=infra.kafka_bootstrap, external_mongodb=infra.mongodb_url, web_workers=1,
                         jwt_secret=TEST_JWT_SECRET)
    argv, env = config.web_command("markets")
    processes = Processes(tmp_path)
    port = config.web_port("markets")
    facilitator = {"Authorization": f"Bearer {token()}"}
    try:
        processes.start("markets-web", argv, {**env, "MAX_REQUEST_BYTES": "4096", "LOG_LEVEL": "WARNING"})
        wait_for_port(port)

        answer = _request(port, "GET", "/api/v1/markets", headers=facilitator)
        assert answer.status == 200
        assert answer.getheader("Server") is None
        assert answer.getheader("X-Content-Type-Options") == "nosniff"
        assert answer.getheader("Referrer-Policy") == "no-referrer"
        assert answer.getheader("Cache-Control") == "no-store"
        assert answer.getheader("Content-Security-Policy").startswith("default-src 'none'")

        # A declared 10 MB body: the answer comes without a byte of it being sent.
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            raw.sendall(b"POST /api/v1/buyers HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                        b"Content-Length: 10000000\r\n\r\n")
            head = b"".join(iter(lambda: raw.recv(65536), b"")).decode()  # gunicorn closes after answering
        assert head.startswith("HTTP/1.1 413 ") and "application/problem+json" in head
        assert "Le corps de la requête dépasse la taille que ce service accepte (4 ko)." in head

        # Chunked, no length: refused once the limit is read.
        chunks = [json.dumps({**CREATIONS["markets"][1], "name": "C" * 5000}).encode()]
        chunked = _request(port, "POST", "/api/v1/buyers", body=iter(chunks),
                           headers={**facilitator, "Content-Type": "application/json"})
        assert chunked.status == 413, chunked.read()
        assert json.loads(chunked.read())["type"] == PROBLEMS + "body_too_large"

        # What a client sends for a lone surrogate or an invalid byte in an id
        for raw_id in ("%ED%A0%80", "%FF", "%00"):
            refused = _request(port, "GET", f"/api/v1/buyers/{raw_id}", headers=facilitator)
            assert refused.status == 400 and json.loads(refused.read())["type"] == PROBLEMS + "malformed_address"
        assert json.loads(_request(port, "GET", "/api/v1/buyers", headers=facilitator).read()) == []
    finally:
        processes.stop_all()
        pymongo.MongoClient(infra.mongodb_url).drop_database(env["MONGODB_DB"])


def _request(port: int, method: str, path: str, body=None, headers=None) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request(method, path, body=body, headers=headers or {}, encode_chunked=body is not None
                       and not isinstance(body, bytes))
    return connection.getresponse()


def test_a_500_is_a_bug_logged_with_its_request_id_and_answered_in_french(service_env, capsys):
    service_env("markets", LOG_LEVEL="INFO")
    app = importlib.import_module("markets.app").create_app()
    app.add_url_rule("/api/v1/bug", "bug", lambda: 1 / 0)

    answer = app.test_client().get("/api/v1/bug", headers={"X-Request-ID": "req-bug"})
    assert_problem(answer, 500, "internal_error")
    assert answer.json["detail"] == ("Une erreur inattendue s'est produite ; elle a été journalisée. "
                                     "Réessayez plus tard.")
    logged = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    bug = next(record for record in logged if record["message"] == "unexpected error")
    assert (bug["level"], bug["request_id"], bug["endpoint"]) == ("ERROR", "req-bug", "bug")
    assert "ZeroDivisionError" in bug["exc_info"]
    # an X-Request-ID that could not be echoed or logged safely is replaced
    odd = app.test_client().get("/health/live", headers={"X-Request-ID": "a b\x7f"})
    assert re.fullmatch(r"[0-9a-f]{32}", odd.headers["X-Request-ID"])
