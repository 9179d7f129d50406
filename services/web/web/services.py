"""The services' public APIs, called with the signed-in person's token.

A page asks for what it needs at once (``gather``) and waits at most WEB_API_TIMEOUT_S: a service that
does not answer makes its part of the page say so, and the rest still shows.
"""
import contextvars
import json
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

import httpx
from plumbing.logs import request_id_var

log = logging.getLogger(__name__)

UNAVAILABLE = "Ce service ne répond pas pour le moment ; réessayez dans quelques instants."
API_PAGE_SIZE = 100  # the most items the services' lists answer in one page


class SignInAgain(Exception):
    """A service refused the person's token (expired or revoked): they sign in again."""


@dataclass
class Answer:
    """What a service answered: its data, or why not (a problem, or no answer at all)."""
    service: str
    status: int = 0  # 0: no answer in time
    data: object = None
    problem: dict = field(default_factory=dict)
    total: int | None = None  # X-Pagination's total, for lists
    content: bytes = b""
    headers: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def unavailable(self) -> bool:
        return self.status == 0 or self.status >= 500

    @property
    def message(self) -> str:
        """The French explanation a person reads when the call did not succeed."""
        if self.unavailable:
            return UNAVAILABLE
        return self.problem.get("detail") or self.problem.get("title") or "La demande a été refusée."

    @property
    def field_errors(self) -> dict[str, list[str]]:
        """Per-field messages of a refused form, flattened to ``name`` or ``name.sub``."""
        flat = {}

        def walk(prefix, value):
            if isinstance(value, dict):
                for key, inner in value.items():
                    walk(f"{prefix}.{key}" if prefix else str(key), inner)
            elif isinstance(value, list) and all(isinstance(v, str) for v in value):
                flat[prefix] = value
            elif isinstance(value, list):
                for index, inner in enumerate(value):
                    walk(f"{prefix}.{index}", inner)
            else:
                flat[prefix] = [str(value)]
        walk("", self.problem.get("errors") or {})
        return flat

    def items(self) -> list:
        return self.data if self.ok and isinstance(self.data, list) else []


@dataclass(frozen=True)
class EveryPage:
    """A list ``gather`` reads whole: its first page, then its other pages at once, all in the list's own thread
    (the page's other calls do not wait for it). A page that fails makes the whole list fail as it did (never a
    list cut short). For lists that stay small (a territory's buyers, a buyer's markets, the recipients): a long
    one is paged or searched (``pages.common.Choice``)."""
    service: str
    path: str
    params: dict = field(default_factory=dict)


class Services:
    """One HTTP client for every service, shared by a process's threads."""

    def __init__(self, urls: dict[str, str], timeout_s: float):
        self.urls = urls
        self.http = httpx.Client(timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 2.0)),
                                 limits=httpx.Limits(max_connections=64, max_keepalive_connections=32))
        self.pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="api")
        # a list's other pages: asked from a thread of ``pool``, which waits for them (never the other way round)
        self.pages_pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="api-pages")

    def call(self, token: str | None, service: str, method: str, path: str, *, params=None, json_body=None,
             files=None, data=None, headers=None, timeout_s: float | None = None) -> Answer:
        sent = {"Accept": "application/json, */*", "X-Request-ID": request_id_var.get() or ""}
        if token:
            sent["Authorization"] = f"Bearer {token}"
        sent.update(headers or {})
        params = _sent(params)
        try:
            response = self.http.request(method, self.urls[service] + path, params=params, json=json_body,
                                         files=files, data=data, headers=sent,
                                         timeout=timeout_s or httpx.USE_CLIENT_DEFAULT)
        except httpx.HTTPError as exc:
            log.warning("service call failed", extra={"service": service, "error": type(exc).__name__})
            return Answer(service)
        if response.status_code == 401 and token:
            raise SignInAgain()
        return _answer(service, response)

    def gather(self, token: str | None, calls: dict) -> dict[str, Answer]:
        """Several GETs at once: ``{"lots": ("markets", "/api/v1/lots", {"at_risk": "true"}), …}``, a list read
        whole as ``EveryPage("markets", "/api/v1/lots", {…})``."""
        # each thread keeps the page's request id (its calls are logged under it, here and by the services);
        # two parts of a page asking the same (a table and a choice of the same lots) share one call
        futures, names = {}, {}
        for name, call in calls.items():
            same = names.setdefault(_identity(call), name)
            futures[name] = futures.get(same) or self.pool.submit(contextvars.copy_context().run, self._read, token,
                                                                  call)
        return {name: future.result() for name, future in futures.items()}

    def _read(self, token: str | None, call) -> Answer:
        if isinstance(call, EveryPage):
            return self._every_page(token, call)
        return self.call(token, call[0], "GET", call[1], params=call[2] if len(call) > 2 else None)

    def _every_page(self, token: str | None, listing: EveryPage) -> Answer:
        params = listing.params | {"page_size": API_PAGE_SIZE}
        first = self.call(token, listing.service, "GET", listing.path, params=params)
        pages = -(-(first.total or 0) // API_PAGE_SIZE)
        if not first.ok or pages < 2:
            return first
        futures = [self.pages_pool.submit(contextvars.copy_context().run, self.call, token, listing.service, "GET",
                                          listing.path, params=params | {"page": number})
                   for number in range(2, pages + 1)]
        others = [future.result() for future in futures]
        failed = next((answer for answer in others if not answer.ok), None)
        return failed or replace(first, data=first.items() + [item for answer in others for item in answer.items()])


def _identity(call) -> tuple:
    """What a call asks, whatever the page named it: its service, path and parameters as they are sent (page 1 is
    the lists' first page whether it is said or not)."""
    whole = isinstance(call, EveryPage)
    if whole:
        service, path, params = call.service, call.path, call.params
    else:
        service, path, params = call[0], call[1], call[2] if len(call) > 2 else None
    asked = sorted((name, str(value)) for name, value in _sent(params).items() if (name, str(value)) != ("page", "1"))
    return whole, service, path, tuple(asked)


def _sent(params: dict | None) -> dict:
    """The parameters a call sends: empty ones are left out."""
    return {k: v for k, v in (params or {}).items() if v not in (None, "", [])}


def _answer(service: str, response: httpx.Response) -> Answer:
    answer = Answer(service, response.status_code, content=response.content, headers=dict(response.headers))
    media = response.headers.get("content-type", "")
    if "json" in media and response.content:
        try:
            body = response.json()
        except json.JSONDecodeError:
            body = None
        if answer.ok:
            answer.data = body
        elif isinstance(body, dict):
            answer.problem = body
    pagination = response.headers.get("X-Pagination")
    if pagination:
        try:
            answer.total = int(json.loads(pagination).get("total", 0))
        except (ValueError, AttributeError):
            pass
    return answer
