"""Signing in to the web application: OpenID Connect with the region's identity provider in production (here a
small provider of our own over HTTP — the edge of the world: the real one is the region's), the demo people in
development only, and a session cookie that scripts cannot read."""
import json
import re
import threading
import time
import uuid
from urllib.parse import urlencode, urlparse

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask, jsonify, redirect, request
from werkzeug.serving import make_server

from plumbing.settings import SettingsError
from stack import StackConfig
from support import TEST_JWT_SECRET, free_port_block

CLIENT_ID = "clauses-web"
SESSION_SECRET = "a-session-secret-of-at-least-32-bytes-for-tests"


class IdentityProvider:
    """Authorization-code flow: /authorize answers at once with a code for the configured person."""

    def __init__(self, port: int):
        self.url = f"http://127.0.0.1:{port}"
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.person = {"sub": "marie.dupont", "role": "facilitator", "territories": ["aude-departement"],
                       "name": "Marie Dupont"}
        self.codes: dict[str, str] = {}
        app = Flask("idp")
        app.add_url_rule("/.well-known/openid-configuration", "metadata", self.metadata)
        app.add_url_rule("/authorize", "authorize", self.authorize)
        app.add_url_rule("/token", "token", self.token, methods=["POST"])
        app.add_url_rule("/jwks", "jwks", self.jwks)
        self.server = make_server("127.0.0.1", port, app, threaded=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def metadata(self):
        return jsonify(issuer=self.url, authorization_endpoint=f"{self.url}/authorize",
                       token_endpoint=f"{self.url}/token", jwks_uri=f"{self.url}/jwks",
                       response_types_supported=["code"], subject_types_supported=["public"],
                       id_token_signing_alg_values_supported=["RS256"])

    def authorize(self):
        code = uuid.uuid4().hex
        self.codes[code] = request.args["nonce"]
        return redirect(f"{request.args['redirect_uri']}?{urlencode({'code': code, 'state': request.args['state']})}")

    def _sign(self, claims: dict) -> str:
        now = int(time.time())
        return jwt.encode({"iss": self.url, "iat": now, "exp": now + 3600, **claims}, self.key, algorithm="RS256",
                          headers={"kid": "test"})

    def token(self):
        nonce = self.codes.pop(request.form["code"], None)
        if nonce is None:
            return jsonify(error="invalid_grant"), 400
        return jsonify(token_type="Bearer", expires_in=3600, access_token=self._sign(self.person),
                       id_token=self._sign({"sub": self.person["sub"], "aud": CLIENT_ID, "nonce": nonce,
                                            "name": self.person["name"]}))

    def jwks(self):
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        return jsonify(keys=[{**public, "kid": "test", "use": "sig", "alg": "RS256"}])


@pytest.fixture(scope="module")
def provider():
    idp = IdentityProvider(free_port_block(1))
    yield idp
    idp.server.shutdown()


def web_client(monkeypatch, **env):
    from web.app import create_app
    values = {"ENVIRONMENT": "production", "REGION_FILE": str(StackConfig.region_file), "LOG_LEVEL": "WARNING",
              "WEB_SESSION_SECRET": SESSION_SECRET, **env}
    for name in ("AUTH_JWT_SECRET", "AUTH_JWKS_URL", "OIDC_METADATA_URL", "OIDC_CLIENT_ID"):
        monkeypatch.delenv(name, raising=False)
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    app = create_app()
    return app.test_client()


def production_client(monkeypatch, provider):
    return web_client(monkeypatch, AUTH_JWKS_URL=f"{provider.url}/jwks",
                      OIDC_METADATA_URL=f"{provider.url}/.well-known/openid-configuration",
                      OIDC_CLIENT_ID=CLIENT_ID, OIDC_CLIENT_SECRET="client-secret",
                      MARKETS_URL="http://127.0.0.1:9", HOURS_URL="http://127.0.0.1:9",
                      NOTIFICATIONS_URL="http://127.0.0.1:9", PARTICIPANTS_URL="http://127.0.0.1:9")


def sign_in_through_the_provider(client) -> object:
    to_provider = client.get("/connexion/fournisseur?next=/accueil", base_url="https://web.example")
    assert to_provider.status_code == 302
    back = requests.get(to_provider.headers["Location"], allow_redirects=False, timeout=5)
    callback = urlparse(back.headers["Location"])
    assert callback.path == "/connexion/retour"
    return client.get(f"{callback.path}?{callback.query}", base_url="https://web.example")


def test_a_facilitator_signs_in_with_the_regions_identity_provider(monkeypatch, provider):
    client = production_client(monkeypatch, provider)
    page = client.get("/connexion", base_url="https://web.example").get_data(as_text=True)
    assert "Se connecter avec" in page and "Personnes de démonstration" not in page

    landed = sign_in_through_the_provider(client)
    assert landed.status_code == 302 and landed.headers["Location"] == "/accueil"
    cookie = landed.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=Lax" in cookie

    home = client.get("/accueil", base_url="https://web.example")
    text = home.get_data(as_text=True)
    assert home.status_code == 200 and "Marie Dupont" in text and "(facilitateur)" in text
    # the services do not answer here: each part of the page says so, and the page still shows
    assert "Ce service ne répond pas pour le moment" in text


def test_a_person_the_provider_knows_without_a_role_here_is_not_signed_in(monkeypatch, provider):
    provider.person = {"sub": "someone", "name": "Quelqu'un"}  # no role, no territories
    try:
        client = production_client(monkeypatch, provider)
        refused = sign_in_through_the_provider(client)
        assert refused.headers["Location"] == "/connexion"
        page = client.get("/connexion", base_url="https://web.example").get_data(as_text=True)
        assert "n&#39;a pas de rôle ou de territoire sur cette plateforme" in page
        assert client.get("/accueil", base_url="https://web.example").status_code == 302
    finally:
        provider.person = {"sub": "marie.dupont", "role": "facilitator", "territories": ["aude-departement"],
                           "name": "Marie Dupont"}


def test_the_demo_people_exist_only_in_development(monkeypatch, provider):
    client = production_client(monkeypatch, provider)
    sign_in_through_the_provider(client)
    home = client.get("/accueil", base_url="https://web.example")
    assert home.headers["Referrer-Policy"] == "same-origin"  # what the CSRF check over HTTPS needs
    token = re.search(r'name="csrf_token" value="([^"]+)"', home.get_data(as_text=True)).group(1)
    refused = client.post("/connexion/demo", data={"person": "demo-operator", "csrf_token": token},
                          base_url="https://web.example", headers={"Referer": "https://web.example/accueil"})
    assert refused.status_code == 404
    assert "(facilitateur)" in client.get("/accueil", base_url="https://web.example").get_data(as_text=True)

    development = web_client(monkeypatch, ENVIRONMENT="development", AUTH_JWT_SECRET=TEST_JWT_SECRET,
                             MARKETS_URL="http://127.0.0.1:9", HOURS_URL="http://127.0.0.1:9")
    page = development.get("/connexion").get_data(as_text=True)
    assert "Facilitateur — Carcassonne Agglo" in page and "Opérateur de la région" in page


def test_a_form_without_its_csrf_token_changes_nothing(monkeypatch, provider):
    client = production_client(monkeypatch, provider)
    sign_in_through_the_provider(client)
    signed_out = client.post("/deconnexion", base_url="https://web.example")
    assert signed_out.status_code == 400 and "Le formulaire a expiré" in signed_out.get_data(as_text=True)
    assert client.get("/accueil", base_url="https://web.example").status_code == 200  # still signed in


def test_production_refuses_to_start_without_its_secrets(monkeypatch, provider):
    with pytest.raises(SettingsError, match="WEB_SESSION_SECRET"):
        web_client(monkeypatch, WEB_SESSION_SECRET="", AUTH_JWKS_URL=f"{provider.url}/jwks",
                   OIDC_METADATA_URL=f"{provider.url}/.well-known/openid-configuration", OIDC_CLIENT_ID=CLIENT_ID)
    with pytest.raises(SettingsError, match="OIDC_METADATA_URL"):
        web_client(monkeypatch, AUTH_JWKS_URL=f"{provider.url}/jwks")
