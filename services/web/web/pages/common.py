"""What every page does with the services: call them with the signed-in person's token."""
import dataclasses

from flask import Response, abort, current_app, render_template, request

from .. import auth
from ..services import Answer, Services

PAGE_SIZES = (20, 50, 100)
API_PAGE_SIZE = 100  # the most items the services' lists answer in one page


def services() -> Services:
    return current_app.extensions["services"]


def get(service: str, path: str, params: dict | None = None) -> Answer:
    return services().call(auth.token(), service, "GET", path, params=params)


def send(method: str, service: str, path: str, json_body=None, **kwargs) -> Answer:
    """A change (POST, PUT, DELETE) on behalf of the signed-in person."""
    return services().call(auth.token(), service, method, path, json_body=json_body, **kwargs)


def gather(**calls: tuple) -> dict[str, Answer]:
    """Several reads at once: ``gather(lots=("markets", "/api/v1/lots", {...}), alerts=(…))``."""
    return services().gather(auth.token(), calls)


def with_every_page(first: Answer, service: str, path: str, params: dict) -> Answer:
    """A list's first page (``first``, asked with ``params``, whose page_size is API_PAGE_SIZE) with the items of its
    other pages, asked at once; a page that fails makes the whole list fail as it did (never a list cut short)."""
    pages = -(-(first.total or 0) // API_PAGE_SIZE)
    if not first.ok or pages < 2:
        return first
    others = gather(**{f"page_{number}": (service, path, params | {"page": number})
                       for number in range(2, pages + 1)}).values()
    failed = next((answer for answer in others if not answer.ok), None)
    return failed or dataclasses.replace(first, data=first.items() + [item for answer in others
                                                                      for item in answer.items()])


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
