"""HTTP entrypoints of the observatory: statistics, exports, reports, and the public figures.

Facilitators and operators count their territories' markets, a buyer its own markets only (its token's
buyer_id). The public observatory needs no sign-in and gives only the region's suppressed aggregates.
"""
from flask import Response, current_app, url_for
from flask.views import MethodView
from flask_smorest import Blueprint
from plumbing.auth import allow, current_principal, public_endpoint
from plumbing.problems import problem
from plumbing.region import current as current_region

from . import documents, exports, handlers
from .schemas import PanoramaQuerySchema, PeriodQuerySchema, PublicFiguresSchema, StatisticsQuerySchema, StatisticsSchema

blp = Blueprint("observatory", __name__, url_prefix="/api/v1/observatory",
                description="Observatoire : statistiques, exports, bilans et panorama")
public = Blueprint("observatory-public", __name__, url_prefix="/api/v1/observatory",
                   description="Observatoire public : chiffres agrégés de la région, sans authentification")

FORMATS = {"csv": "text/csv; charset=utf-8",
           "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
DOCUMENTS = ("html", "pdf")
FORMAT_PATH = "<fmt>"  # csv or xlsx (a plain parameter: the gateway test probes every documented path)
DOCUMENT_PATH = "<fmt>"  # html or pdf


def _threshold() -> int:
    return current_app.extensions["settings"].extra["threshold"]


def _download(content: bytes, mimetype: str, filename: str) -> Response:
    return Response(content, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def _format(fmt: str, formats) -> str:
    if fmt not in formats:
        raise problem(404, f"Format inconnu : {fmt}. Formats possibles : {', '.join(formats)}.")
    return fmt


def _table_file(fmt: str, name: str, headers: list[str], rows: list[list]) -> Response:
    content = exports.write_csv(headers, rows) if fmt == "csv" else exports.write_xlsx(name, headers, rows)
    return _download(content, FORMATS[fmt], f"{name}.{fmt}")


def _document(fmt: str, html: str, name: str) -> Response:
    if fmt == "html":
        return Response(html, mimetype="text/html")
    return Response(documents.pdf(html), mimetype="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{name}.pdf"'})


def _scope(territory: str | None, market_id: str | None = None) -> handlers.Scope:
    principal = current_principal()
    if territory and territory not in principal.territories:
        raise problem(403, "Vous n'intervenez pas sur ce territoire.")
    if principal.role == "buyer" and not principal.buyer_id:
        raise problem(403, "Votre jeton ne désigne aucun acheteur : il ne donne accès à aucun marché.")
    return handlers.Scope(principal, territory, market_id)


@blp.route("/statistics")
class Statistics(MethodView):
    @allow("facilitator", "operator", "buyer")
    @blp.arguments(StatisticsQuerySchema, location="query")
    @blp.response(200, StatisticsSchema)
    def get(self, query):
        """Hours required, realised and declared, participants and outcomes, by up to two criteria"""
        return handlers.statistics(_scope(query.get("territory")), query["dimensions"], query["months"],
                                   _threshold())


@blp.route(f"/statistics.{FORMAT_PATH}")
class StatisticsFile(MethodView):
    @allow("facilitator", "operator", "buyer")
    @blp.arguments(StatisticsQuerySchema, location="query")
    @blp.response(200, description="The same statistics as a CSV (semicolons, UTF-8) or XLSX file")
    def get(self, query, fmt):
        """The statistics as a CSV or XLSX file (« s » where the statistical secret hides a figure)"""
        _format(fmt, FORMATS)
        stats = handlers.statistics(_scope(query.get("territory")), query["dimensions"], query["months"],
                                    _threshold())
        return _table_file(fmt, "statistiques", *exports.statistics_table(stats))


@blp.route(f"/lots.{FORMAT_PATH}")
class LotsFile(MethodView):
    @allow("facilitator", "operator", "buyer")
    @blp.arguments(PeriodQuerySchema, location="query")
    @blp.response(200, description="Markets and lots with their progress, as CSV or XLSX")
    def get(self, query, fmt):
        """The markets and lots of the caller's territories (a buyer: its own) with their progress"""
        _format(fmt, FORMATS)
        scope = _scope(query.get("territory"))
        return _table_file(fmt, "lots", exports.LOT_HEADERS, exports.lots_table(scope, scope.lines()))


@blp.route(f"/lines.{FORMAT_PATH}")
class LinesFile(MethodView):
    @allow("facilitator", "operator")
    @blp.arguments(PeriodQuerySchema, location="query")
    @blp.response(200, description="Declaration lines in force, pseudonymous, as CSV or XLSX")
    def get(self, query, fmt):
        """The declaration lines of the caller's territories: participants under a pseudonym only"""
        _format(fmt, FORMATS)
        scope = _scope(query.get("territory"))
        return _table_file(fmt, "lignes", exports.LINE_HEADERS,
                           exports.lines_table(scope, scope.lines(), query["months"]))


@blp.route(f"/markets/<market_id>/report.{DOCUMENT_PATH}")
class MarketReport(MethodView):
    @allow("buyer", "facilitator", "operator")
    @blp.response(200, description="The market's report in French, as HTML or PDF")
    def get(self, market_id, fmt):
        """A buyer's report on one of its markets: quota, realised, monthly curve, people, outcomes, companies"""
        _format(fmt, DOCUMENTS)
        _scope(None)
        report = handlers.market_report(market_id, current_principal(), _threshold())
        if report is None:
            raise problem(404, "Marché introuvable.")
        return _document(fmt, documents.render("market_report.html", **report), f"bilan-{report['market']['_id']}")


@blp.route(f"/panorama.{DOCUMENT_PATH}")
class Panorama(MethodView):
    @allow("facilitator", "operator")
    @blp.arguments(PanoramaQuerySchema, location="query")
    @blp.response(200, description="The yearly panorama in French, as HTML or PDF")
    def get(self, query, fmt):
        """The yearly panorama of a territory (or of the caller's territories): charts and tables"""
        _format(fmt, DOCUMENTS)
        territory = query.get("territory")
        region = current_region()
        name = region.territories[territory].name if territory else (
            region.name if set(region.territories) <= current_principal().territories
            else ", ".join(region.territories[t].name for t in sorted(current_principal().territories)))
        data = handlers.panorama(_scope(territory), query["year"], _threshold(), name)
        return _document(fmt, documents.render("panorama.html", **data), f"panorama-{query['year']}")


@public.route("/public")
class PublicFigures(MethodView):
    @public.response(200, PublicFiguresSchema)
    @public_endpoint
    def get(self):
        """The region's published figures (JSON, no sign-in): aggregates only, under the statistical secret"""
        return handlers.public_figures(_threshold())


@public.route("/public.html")
class PublicPage(MethodView):
    @public.response(200, description="The public observatory page, embeddable in a partner's site")
    @public_endpoint
    def get(self):
        """The public observatory page (no sign-in), to embed in a partner's website"""
        figures = handlers.public_figures(_threshold())
        return Response(documents.render("public.html", **figures, json_url=url_for("observatory-public.PublicFigures",
                                                                                     _external=True)),
                        mimetype="text/html")


@public.after_request
def embeddable(response):
    """Partners embed the page (iframe) and read the JSON from their own pages."""
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Cache-Control"] = "public, max-age=300"
    return response
