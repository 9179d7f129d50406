"""Pages anyone can read without signing in: the region's one-stop shop and who to contact."""
from flask import Blueprint, current_app, g, redirect, render_template, url_for

bp = Blueprint("public", __name__)


@bp.get("/")
def index():
    if g.get("person") is not None:
        return redirect(url_for("home.index"))
    region = current_app.extensions["settings"].region
    return render_template("pages/public.html", region=region)


@bp.get("/accessibilite")
def accessibility():
    return render_template("pages/accessibility.html")


@bp.get("/donnees-personnelles")
def privacy():
    return render_template("pages/privacy.html", region=current_app.extensions["settings"].region)
