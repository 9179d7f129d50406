"""The observatory's statistics: figures of a period broken down by one or two criteria, as a table and a
chart, with their files (CSV, XLSX), the yearly panorama and a market's report to download."""
from datetime import date

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from ..auth import signed_in
from .. import auth
from .common import MARKETS, Choice, choose, download, gather, services

bp = Blueprint("statistics", __name__)

READERS = ("facilitator", "operator", "buyer")  # a buyer's figures are those of its own markets
TABLES = ("csv", "xlsx")
DOCUMENTS = ("pdf", "html")
FILTERS = ("du", "au", "territoire", "critere", "second_critere")
CHART_WIDTH = 400
FILE_TIMEOUT_S = 30  # a PDF takes the observatory seconds to draw: longer than a page's part may wait  # the longest bar, in the SVG's units


def _query() -> tuple[dict, dict]:
    """The filters as the page names them, and as the observatory reads them."""
    chosen = {name: request.args.get(name, "").strip() for name in FILTERS}
    criteria = [c for c in (chosen["critere"], chosen["second_critere"]) if c]
    return chosen, {"from": chosen["du"], "to": chosen["au"], "territory": chosen["territoire"],
                    "dimensions": ",".join(criteria)}


@bp.get("/statistiques")
@signed_in(*READERS)
def index():
    chosen, query = _query()
    market = Choice("marche", MARKETS)  # the market whose report is downloaded, found by words
    found = gather(statistics=("observatory", "/api/v1/observatory/statistics", query), **market.calls())
    stats = found["statistics"].data or {}
    return render_template("pages/statistics/index.html", found=found, chosen=chosen, stats=stats,
                           choices=choose(found, market),
                           chart=chart(stats.get("rows") or []), year=date.today().year, tables=TABLES,
                           documents=DOCUMENTS)


def chart(rows: list[dict]) -> list[dict]:
    """The realised hours of each row as bars (the hidden figures of the statistical secret as none)."""
    hours = [row.get("hours_realised") or 0 for row in rows]
    longest = max(hours, default=0) or 1
    return [{"label": " — ".join(key["label"] for key in row["keys"].values()), "hours": row.get("hours_realised"),
             "width": round(CHART_WIDTH * value / longest, 1), "y": index * 28}
            for index, (row, value) in enumerate(zip(rows, hours))]


@bp.get("/statistiques/statistiques.<fmt>")
@signed_in(*READERS)
def table_file(fmt):
    if fmt not in TABLES:
        abort(404)
    return _file(f"/api/v1/observatory/statistics.{fmt}", _query()[1], f"statistiques.{fmt}")


@bp.get("/statistiques/panorama.<fmt>")
@signed_in("facilitator", "operator")
def panorama(fmt):
    if fmt not in DOCUMENTS:
        abort(404)
    year = request.args.get("annee", "")
    return _file(f"/api/v1/observatory/panorama.{fmt}", {"year": year, "territory": request.args.get("territoire")},
                 f"panorama-{year}.{fmt}")


@bp.get("/statistiques/bilan.<fmt>")
@signed_in(*READERS)
def market_report(fmt):
    market_id = request.args.get("marche", "")
    if fmt not in DOCUMENTS or not market_id.replace("-", "").isalnum():
        abort(404)
    return _file(f"/api/v1/observatory/markets/{market_id}/report.{fmt}", {}, f"bilan-{market_id}.{fmt}")


def _file(path: str, params: dict, filename: str):
    """The observatory's file, or back to the statistics (filters kept) saying why not."""
    answer = services().call(auth.token(), "observatory", "GET", path, params=params, timeout_s=FILE_TIMEOUT_S)
    if answer.ok:
        return download(answer, filename)
    flash(f"Le fichier n'a pas pu être produit : {answer.message}", "error")
    return redirect(url_for("statistics.index", **{name: value for name, value in request.args.items()
                                                   if name in FILTERS and value}))
