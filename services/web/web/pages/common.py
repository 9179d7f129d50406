"""What every page does with the services: call them with the signed-in person's token."""
import dataclasses
import re
from typing import Callable

from flask import Response, abort, current_app, render_template, request

from .. import auth
from ..services import API_PAGE_SIZE, Answer, EveryPage, Services

PAGE_SIZES = (20, 50, 100)


def services() -> Services:
    return current_app.extensions["services"]


def get(service: str, path: str, params: dict | None = None) -> Answer:
    return services().call(auth.token(), service, "GET", path, params=params)


def send(method: str, service: str, path: str, json_body=None, **kwargs) -> Answer:
    """A change (POST, PUT, DELETE) on behalf of the signed-in person."""
    return services().call(auth.token(), service, method, path, json_body=json_body, **kwargs)


def gather(**calls) -> dict[str, Answer]:
    """Several reads at once: ``gather(lots=("markets", "/api/v1/lots", {...}), buyers=EveryPage(…))``."""
    return services().gather(auth.token(), calls)


# Lists that stay small, read whole
BUYERS = EveryPage("markets", "/api/v1/buyers", {"sort": "name"})
RECIPIENTS = EveryPage("notifications", "/api/v1/recipients")
KEY = re.compile(r"[A-Za-z0-9_-]{1,64}")  # an item's id or SIRET, as lists' choices send them


@dataclasses.dataclass(frozen=True)
class Searchable:
    """A list too long for a select (a territory's lots, markets, companies): one searches it with the API's ``q``
    (``path``), and reads an item by its key (``path/<key>``)."""
    service: str
    path: str
    key: str  # the item's field a form sends
    label: Callable[[dict], str]
    params: tuple = ()  # what the list is always asked: (("sort", "title"),)


LOTS = Searchable("markets", "/api/v1/lots", "id", lambda lot: f"{lot['title']} (lot {lot['number']})",
                  (("sort", "title"),))
MARKETS = Searchable("markets", "/api/v1/markets", "id", lambda market: f"{market['reference']} — {market['title']}",
                     (("sort", "reference"),))
COMPANIES = Searchable("hours", "/api/v1/contractors", "siret", lambda company: company["name"])


@dataclasses.dataclass
class Choice:
    """A field choosing one item of a ``Searchable`` list: the words typed in its search field (``recherche_<name>``)
    find at most a page of items to choose from (without words, the list's first page); the item chosen stays a
    choice, by its name, whether the words find it or not."""
    name: str
    listing: Searchable
    params: dict = dataclasses.field(default_factory=dict)  # the list's filters (a territory…)
    size: int = API_PAGE_SIZE  # the most items offered at once
    typed: str = ""
    chosen: str = ""
    found: Answer | None = None
    options: list = dataclasses.field(default_factory=list)  # [(key, label)], the chosen item first

    def __post_init__(self):
        self.typed = request.values.get(self.search_name, "").strip()[:100]
        chosen = self.chosen or request.values.get(self.name, "").strip()
        self.chosen = chosen if KEY.fullmatch(chosen) else ""  # it is part of an address

    @property
    def search_name(self) -> str:
        return f"recherche_{self.name}"

    def calls(self) -> dict[str, tuple]:
        """The reads it needs, to ``gather`` with the page's own."""
        listing = self.listing
        calls = {f"{self.name}_found": (listing.service, listing.path, dict(listing.params) | self.params | {
            "q": self.typed, "page_size": self.size})}
        if self.chosen:
            calls[f"{self.name}_chosen"] = (listing.service, f"{listing.path}/{self.chosen}")
        return calls

    def take(self, found: dict[str, Answer]) -> "Choice":
        """Its options from what ``gather`` answered to its ``calls``."""
        self.found, chosen = found[f"{self.name}_found"], found.get(f"{self.name}_chosen")
        key, label = self.listing.key, self.listing.label
        self.options = [(item[key], label(item)) for item in self.found.items()]
        if self.chosen and self.chosen not in dict(self.options):
            name = label(chosen.data) if chosen is not None and chosen.ok else self.chosen
            self.options.insert(0, (self.chosen, name))
        return self

    @property
    def label(self) -> str | None:
        """The chosen item's name (None when none is chosen)."""
        return dict(self.options).get(self.chosen) if self.chosen else None

    @property
    def more(self) -> bool:
        """The words (or their absence) find more items than the options hold."""
        return bool(self.found and self.found.ok and (self.found.total or 0) > len(self.found.items()))


def choose(found: dict[str, Answer], *choices: Choice) -> dict[str, Choice]:
    """The choices of a page, their options taken from what it gathered: ``{name: choice}``."""
    return {choice.name: choice.take(found) for choice in choices}


def names(listing: Searchable, keys, known: dict[str, str]) -> dict[str, str]:
    """The names of the items ``keys`` of a list (those of a page's table): those not ``known`` yet are read by
    their keys, a page of the list at once (an item that cannot be read keeps its key)."""
    missing = sorted({key for key in keys if key and key not in known and KEY.fullmatch(key)})
    pages = [missing[start:start + API_PAGE_SIZE] for start in range(0, len(missing), API_PAGE_SIZE)]
    read = gather(**{f"page_{index}": (listing.service, listing.path, {listing.key: page, "page_size": API_PAGE_SIZE})
                     for index, page in enumerate(pages)})
    return known | {item[listing.key]: listing.label(item) for answer in read.values() for item in answer.items()}


def paging(page_arg: str = "page") -> dict:
    """The page asked for in the query (?page=2&par=50), bounded to what the APIs accept; ``page_arg`` names the
    page's argument for a second list on a page."""
    try:
        page = max(1, min(int(request.args.get(page_arg, 1)), 10_000))
    except ValueError:
        page = 1
    try:
        size = int(request.args.get("par", PAGE_SIZES[0]))
    except ValueError:
        size = PAGE_SIZES[0]
    return {"page": page, "page_size": size if size in PAGE_SIZES else PAGE_SIZES[0]}


def download(answer: Answer, filename: str) -> Response:
    """A file a service produced (CSV, XLSX, PDF), handed to the person as it came."""
    response = Response(answer.content, mimetype=answer.headers.get("content-type", "application/octet-stream"))
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def query_filters(names: dict[str, str]) -> tuple[dict, dict]:
    """A list page's filters: ``{"statut": "status", …}`` maps the page's (French) query names to the API's.
    Returns what the form shows again (by French name) and what the API is asked (by its name)."""
    shown = {name: request.args.get(name, "").strip() for name in names}
    return shown, {api: shown[name] for name, api in names.items() if shown[name]}


def found_or_abort(answer: Answer) -> Answer:
    """A page about one thing: the service's « not found » or « not yours » is the page's own."""
    if answer.status in (403, 404):
        abort(answer.status)
    return answer


def form_page(template: str, refused: Answer | None = None, **context):
    """A form's page: as the person filled it, with what the service refused (per field and in a summary,
    status 422) when it did."""
    if refused is None:
        return render_template(template, form=request.form, errors={}, message=None, **context)
    return render_template(template, form=request.form, errors=refused.field_errors, message=refused.message,
                           **context), 422
