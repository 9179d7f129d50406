"""The French documents of the observatory: a buyer's market report, the yearly panorama and the public
page, as HTML from Jinja2 templates (autoescaped), and as PDF through WeasyPrint. Charts are inline SVG
drawn here: bars filled with patterns and labelled with their values, so that they read in grey."""
import functools
import hashlib
from datetime import date

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from . import domain
from .store import DrawnPdf

PLATFORM_NAME = "Clauses sociales — observatoire"
PATTERNS = ("diagonal", "dots", "cross", "horizontal", "solid", "vertical")


def french_number(value, decimals: int = 0) -> str:
    if value is None:
        return "s"
    text = f"{value:,.{decimals}f}".replace(",", "\u202f").replace(".", ",")
    return text


def french_date(value: date) -> str:
    return f"{value.day} {domain.MONTHS_FR[value.month - 1]} {value.year}"


_DEFS = Markup(
    '<defs>'
    '<pattern id="p-diagonal" width="6" height="6" patternUnits="userSpaceOnUse"><rect width="6" height="6" fill="#fff"/>'
    '<path d="M0,6 L6,0" stroke="#000" stroke-width="1.2"/></pattern>'
    '<pattern id="p-dots" width="5" height="5" patternUnits="userSpaceOnUse"><rect width="5" height="5" fill="#fff"/>'
    '<circle cx="2.5" cy="2.5" r="1.2" fill="#000"/></pattern>'
    '<pattern id="p-cross" width="6" height="6" patternUnits="userSpaceOnUse"><rect width="6" height="6" fill="#fff"/>'
    '<path d="M0,0 L6,6 M0,6 L6,0" stroke="#000" stroke-width="0.8"/></pattern>'
    '<pattern id="p-horizontal" width="6" height="4" patternUnits="userSpaceOnUse"><rect width="6" height="4" fill="#fff"/>'
    '<path d="M0,2 L6,2" stroke="#000" stroke-width="1"/></pattern>'
    '<pattern id="p-solid" width="4" height="4" patternUnits="userSpaceOnUse"><rect width="4" height="4" fill="#555"/></pattern>'
    '<pattern id="p-vertical" width="4" height="6" patternUnits="userSpaceOnUse"><rect width="4" height="6" fill="#fff"/>'
    '<path d="M2,0 L2,6" stroke="#000" stroke-width="1"/></pattern>'
    '</defs>')


def bar_chart(title: str, bars: list[tuple[str, float | None]], unit: str = "h") -> Markup:
    """Horizontal bars, one pattern each, the value written at the bar's end (« s » when secret)."""
    width, label_width, row = 640, 230, 26
    height = 30 + row * max(len(bars), 1)
    top = max([value or 0 for _, value in bars] + [1])
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" aria-label="{escape(title)}">', _DEFS,
             f'<text x="0" y="16" font-size="13" font-weight="bold">{escape(title)}</text>']
    for index, (name, value) in enumerate(bars):
        y = 26 + index * row
        length = 0 if value is None else (width - label_width - 90) * value / top
        parts.append(f'<text x="{label_width - 6}" y="{y + 15}" font-size="11" text-anchor="end">'
                     f'{escape(name[:38])}</text>')
        parts.append(f'<rect x="{label_width}" y="{y + 3}" width="{length:.1f}" height="{row - 8}" '
                     f'fill="url(#p-{PATTERNS[index % len(PATTERNS)]})" stroke="#000" stroke-width="0.8"/>')
        shown = "s (secret statistique)" if value is None else f"{french_number(value)} {unit}"
        parts.append(f'<text x="{label_width + length + 6:.1f}" y="{y + 15}" font-size="11">{escape(shown)}</text>')
    if not bars:
        parts.append('<text x="0" y="44" font-size="11">Aucune donnée sur la période.</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def curve_chart(title: str, points: list[dict], quota: float) -> Markup:
    """The cumulative realised hours per month (solid line, dots) against the quota (dashed line)."""
    width, height, left, bottom = 640, 260, 60, 40
    top_value = max([quota] + [p["cumulative"] for p in points] + [1])
    plot_w, plot_h = width - left - 20, height - bottom - 40

    def y(value):
        return 30 + plot_h - plot_h * value / top_value

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" aria-label="{escape(title)}">',
             f'<text x="0" y="16" font-size="13" font-weight="bold">{escape(title)}</text>',
             f'<line x1="{left}" y1="{30 + plot_h}" x2="{width - 20}" y2="{30 + plot_h}" stroke="#000"/>',
             f'<line x1="{left}" y1="30" x2="{left}" y2="{30 + plot_h}" stroke="#000"/>',
             f'<line x1="{left}" y1="{y(quota):.1f}" x2="{width - 20}" y2="{y(quota):.1f}" stroke="#000" '
             f'stroke-dasharray="6,4"/>',
             f'<text x="{width - 20}" y="{y(quota) - 4:.1f}" font-size="11" text-anchor="end">'
             f'objectif : {escape(french_number(quota))} h</text>']
    if points:
        step = plot_w / max(len(points) - 1, 1)
        coords = [(left + i * step, y(p["cumulative"])) for i, p in enumerate(points)]
        parts.append('<polyline fill="none" stroke="#000" stroke-width="2" points="'
                     + " ".join(f"{x:.1f},{yy:.1f}" for x, yy in coords) + '"/>')
        for (x, yy), point in zip(coords, points):
            parts.append(f'<circle cx="{x:.1f}" cy="{yy:.1f}" r="3" fill="#000"/>')
        for (x, _), point in list(zip(coords, points))[:: max(1, len(points) // 8)]:
            parts.append(f'<text x="{x:.1f}" y="{30 + plot_h + 16}" font-size="10" text-anchor="middle">'
                         f'{escape(point["month"])}</text>')
        last_x, last_y = coords[-1]
        parts.append(f'<text x="{last_x - 4:.1f}" y="{last_y - 8:.1f}" font-size="11" text-anchor="end">réalisé : '
                     f'{escape(french_number(points[-1]["cumulative"]))} h</text>')
    else:
        parts.append(f'<text x="{left + 10}" y="{30 + plot_h / 2}" font-size="11">Aucune heure réalisée.</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def bars_of(stats: dict, measure: str = "hours_realised") -> list[tuple[str, float | None]]:
    dimension = stats["dimensions"][0]["code"]
    return [(row["keys"][dimension]["label"], row[measure]) for row in stats["rows"]]


_env = Environment(loader=PackageLoader("observatory", "templates"), autoescape=select_autoescape(["html"]),
                   undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
_env.filters.update(number=french_number, fr_date=french_date)
_env.globals.update(platform=PLATFORM_NAME, bar_chart=bar_chart, curve_chart=curve_chart, bars_of=bars_of,
                    label=domain.label, outcomes=domain.OUTCOMES, outcome_labels=domain.OUTCOME_LABELS_FR)


def render(template: str, **context) -> str:
    return _env.get_template(template).render(**context)


@functools.lru_cache(maxsize=16)
def pdf(html: str) -> bytes:
    """The same HTML makes the same PDF (a document says the day it was made, not the time): the people of a
    territory downloading the day's panorama, or a market's report, wait for WeasyPrint (0.3–1.5 s) once, whichever
    process of the service they reach (the PDF is kept in the database for the day)."""
    key = hashlib.sha256(html.encode()).hexdigest()
    kept = DrawnPdf.objects(id=key).first()
    if kept is not None:
        return kept.content
    from weasyprint import HTML  # loads pango: only where a PDF is asked for
    content = HTML(string=html).write_pdf()
    today = date.today().isoformat()
    DrawnPdf.objects(drawn_on__lt=today).delete()
    DrawnPdf(id=key, content=content, drawn_on=today).save()
    return content
