"""The French documents this service hands to people: the right-of-access export.

Rendered with Jinja2 and autoescaping on: names and free text typed by facilitators are escaped.
"""
from datetime import date, datetime

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from . import domain
from .handlers import ACTION_LABELS_FR

_env = Environment(loader=PackageLoader("participants", "templates"), autoescape=select_autoescape(["html"]),
                   undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def _french_date(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime):
        return value.strftime("%d/%m/%Y à %H:%M UTC")
    if isinstance(value, date):
        return domain.french_date(value)
    return str(value)


_env.filters["fr_date"] = _french_date
_env.globals.update(
    criteria=domain.CRITERIA_LABELS_FR, outcomes=domain.OUTCOME_LABELS_FR,
    contract_types=domain.CONTRACT_TYPE_LABELS_FR, sexes=domain.SEX_LABELS_FR,
    statuses=domain.STATUS_LABELS_FR, age_bands=domain.AGE_BAND_LABELS_FR, actions=ACTION_LABELS_FR,
    decisions=domain.DECISION_LABELS_FR)


def render_export(exported: dict) -> str:
    """The export of ``handlers.export`` as an HTML document in French."""
    return _env.get_template("export.html").render(**exported)
