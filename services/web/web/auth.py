"""Who is signed in: OpenID Connect with the region's identity provider, or, in development, a page
listing the demo people. The session cookie keeps the person's token; every page verifies it again with
the services' own verifier (plumbing.auth), so the web application and the APIs agree on who it is."""
import functools
import logging

import jwt
from authlib.integrations.flask_client import OAuth
from flask import (Blueprint, abort, current_app, flash, g, redirect, render_template, request, session,
                   url_for)
from plumbing.auth import ROLE_LABELS_FR, Principal, issue_token
from plumbing.problems import Problem

from .services import EveryPage, Services

log = logging.getLogger(__name__)
bp = Blueprint("auth", __name__)
oauth = OAuth()


def init_app(app) -> None:
    settings = app.extensions["settings"].extra
    oauth.init_app(app)
    if settings["oidc_metadata_url"]:
        oauth.register("idp", server_metadata_url=settings["oidc_metadata_url"],
                       client_id=settings["oidc_client_id"], client_secret=settings["oidc_client_secret"],
                       client_kwargs={"scope": settings["oidc_scopes"]})
    app.before_request(_load_person)
    app.context_processor(lambda: {"person": g.get("person"), "ROLE_LABELS_FR": ROLE_LABELS_FR})


def _load_person() -> None:
    g.person = None
    token = session.get("token")
    if not token:
        return
    try:
        g.person = current_app.extensions["token_verifier"].verify(token)
    except (jwt.PyJWTError, Problem):
        session.clear()
        flash("Votre session a expiré : reconnectez-vous.", "info")


def token() -> str | None:
    return session.get("token")


def signed_in(*roles: str):
    """The page needs a signed-in person, of one of ``roles`` when given."""
    def decorate(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            person: Principal | None = g.get("person")
            if person is None:
                return redirect(url_for("auth.sign_in", next=request.full_path.rstrip("?")))
            if roles and person.role not in roles:
                abort(403)
            return view(*args, **kwargs)
        return wrapper
    return decorate


def _development() -> bool:
    return current_app.extensions["settings"].environment == "development"


@bp.get("/connexion")
def sign_in():
    settings = current_app.extensions["settings"]
    people = demo_people() if _development() else []
    return render_template("pages/sign_in.html", people=people, oidc=bool(settings.extra["oidc_metadata_url"]),
                           provider=settings.extra["oidc_name"], next=_safe_next())


@bp.post("/connexion/demo")
def sign_in_as_demo_person():
    """Development only: sign in as one of the demo people (refused anywhere else)."""
    if not _development():
        abort(404)
    chosen = next((p for p in demo_people() if p["id"] == request.form.get("person")), None)
    if chosen is None:
        flash("Choisissez une personne de la liste.", "error")
        return redirect(url_for("auth.sign_in"))
    settings = current_app.extensions["settings"]
    _start_session(issue_token(settings.jwt_secret, chosen["id"], chosen["role"], chosen["territories"],
                               hours=settings.extra["session_hours"], issuer=settings.jwt_issuer,
                               audience=settings.jwt_audience, buyer_id=chosen.get("buyer_id"),
                               **({"siret": chosen["siret"]} if chosen.get("siret") else {})), chosen["name"])
    return redirect(_safe_next() or url_for("home.index"))


@bp.get("/connexion/fournisseur")
def sign_in_with_provider():
    if oauth.create_client("idp") is None:
        abort(404)
    session["next"] = _safe_next()
    return oauth.idp.authorize_redirect(url_for("auth.provider_callback", _external=True))


@bp.get("/connexion/retour")
def provider_callback():
    client = oauth.create_client("idp")
    if client is None:
        abort(404)
    try:
        answer = client.authorize_access_token()
    except Exception:  # noqa: BLE001 - a refused or replayed answer from the provider: sign in again
        log.warning("identity provider answer refused", exc_info=True)
        flash("La connexion n'a pas abouti ; recommencez.", "error")
        return redirect(url_for("auth.sign_in"))
    chosen = answer.get(current_app.extensions["settings"].extra["oidc_token"])
    userinfo = answer.get("userinfo") or {}
    name = userinfo.get("name") or userinfo.get("email") or ""
    target = session.pop("next", None)
    if not _start_session(chosen, name, userinfo.get("email")):
        return redirect(url_for("auth.sign_in"))
    return redirect(target or url_for("home.index"))


def _start_session(new_token: str | None, name: str, email: str | None = None) -> bool:
    """``email``, when the identity provider gives it, offered as the address of the person's alerts."""
    try:
        person = current_app.extensions["token_verifier"].verify(new_token or "")
    except (jwt.PyJWTError, Problem):
        flash("Votre compte n'a pas de rôle ou de territoire sur cette plateforme : adressez-vous à "
              "l'opérateur de la région.", "error")
        return False
    session.clear()
    session.permanent = True
    session.update(token=new_token, name=name or person.subject, email=email)
    return True


@bp.post("/deconnexion")
def sign_out():
    session.clear()
    flash("Vous êtes déconnecté.", "info")
    return redirect(url_for("public.index"))


def _safe_next() -> str | None:
    """Where to go after signing in: a path of this site only."""
    target = request.values.get("next") or ""
    return target if target.startswith("/") and not target.startswith("//") else None


def demo_people() -> list[dict]:
    """The people of the demo region one can sign in as, in development: a facilitator per territory
    and one of them all, an operator, each buyer and each company of the region."""
    settings = current_app.extensions["settings"]
    territories = list(settings.region.territories.values())
    people = [{"id": f"demo-facilitator-{t.id}", "role": "facilitator", "territories": [t.id],
               "name": f"Facilitateur — {t.name}"} for t in territories]
    everywhere = [t.id for t in territories]
    people.append({"id": "demo-facilitator", "role": "facilitator", "territories": everywhere,
                   "name": "Facilitateur — tous les territoires"})
    people.append({"id": "demo-operator", "role": "operator", "territories": everywhere,
                   "name": "Opérateur de la région"})
    reader = issue_token(settings.jwt_secret, "demo-sign-in", "facilitator", everywhere, hours=0.1)
    services: Services = current_app.extensions["services"]
    from .pages.common import BUYERS  # pages.common reads this module
    found = services.gather(reader, {"buyers": BUYERS, "companies": EveryPage("hours", "/api/v1/contractors")})
    for buyer in found["buyers"].items():
        people.append({"id": f"demo-buyer-{buyer['id']}", "role": "buyer", "territories": [buyer["territory"]],
                       "buyer_id": buyer["id"], "name": f"Acheteur — {buyer['name']}"})
    for company in found["companies"].items():
        people.append({"id": f"demo-company-{company['siret']}", "role": "contractor",
                       "territories": company["territories"], "siret": company["siret"],
                       "name": f"Entreprise — {company['name']}"})
    return people
