"""The gateway routes every path of every service's OpenAPI document to the service that serves it.

Read from the documents the apps write (no server, no database: building an app asks nothing of them) and
from the gateway's files as they are deployed: deploy/docker/nginx.conf (compose) and
deploy/kubernetes/ingress.yaml. The locations are matched the way nginx and an Ingress match them, so a
path added to a service and forgotten in the gateway fails here, not in production."""
import importlib
import re
from pathlib import Path

import pytest
import yaml
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RequestRedirect

from stack import StackConfig
from support import ROOT, TEST_JWT_SECRET

SERVICES = ("markets", "participants", "hours", "notifications", "observatory")
NGINX = ROOT / "deploy" / "docker" / "nginx.conf"
INGRESS = ROOT / "deploy" / "kubernetes" / "ingress.yaml"


@pytest.fixture(scope="module")
def apps():
    with pytest.MonkeyPatch.context() as env:
        for name, value in {"AUTH_JWT_SECRET": TEST_JWT_SECRET, "REGION_FILE": str(StackConfig.region_file),
                            "LOG_LEVEL": "WARNING"}.items():
            env.setenv(name, value)
        return {service: importlib.import_module(f"{service}.app").create_app() for service in SERVICES}


def concrete(template: str) -> str:
    """A path the template serves: every parameter given a plain value."""
    return re.sub(r"\{[^}]+\}", "x1", template)


def documented(apps) -> list[tuple[str, str, str]]:
    """(service, method, concrete path) of every operation of every document."""
    found = []
    for service, app in apps.items():
        paths = app.test_client().get(f"/docs/{service}/openapi.json").json["paths"]
        found += [(service, method.upper(), concrete(path)) for path, item in paths.items()
                  for method in item if method in ("get", "post", "put", "patch", "delete")]
    return found


def serves(app, method: str, path: str) -> bool:
    try:
        app.url_map.bind("gateway").match(path, method=method)
        return True
    except RequestRedirect:
        return True
    except HTTPException:
        return False


# --- nginx: regex locations in their order, else the longest prefix ------------------------------------
def nginx_locations(text: str) -> list[tuple[str, str, str | None]]:
    """(modifier, pattern, backend template) of each location of the server."""
    locations = []
    for modifier, pattern, body in re.findall(r"^\s*location\s+(~\*|~|=|\^~)?\s*(\S+)\s*\{(.*?)^\s*\}", text,
                                              re.M | re.S):
        backend = re.search(r"set \$backend (\S+);", body)
        locations.append((modifier, pattern, backend.group(1) if backend else None))
    return locations


def nginx_route(locations, path: str) -> str | None:
    """The upstream nginx sends ``path`` to (None: answered by nginx itself)."""
    assert not [pattern for modifier, pattern, _ in locations if modifier in ("=", "^~")], \
        "exact and ^~ locations are not modelled here"
    for modifier, pattern, backend in locations:
        if modifier in ("~", "~*"):
            match = re.search(pattern.replace("(?<", "(?P<"), path, re.I if modifier == "~*" else 0)
            if match:
                return backend and re.sub(r"\$(\w+)", lambda m: match.group(m.group(1)), backend)
    prefixes = [(pattern, backend) for modifier, pattern, backend in locations
                if not modifier and not pattern.startswith("@") and path.startswith(pattern)]
    return max(prefixes, key=lambda p: len(p[0]))[1] if prefixes else None


# --- the Ingress: the longest matching path wins -----------------------------------------------------
def ingress_paths(text: str) -> list[tuple[str, str, str]]:
    """(path type, path, service) of each rule, regexes where the Ingress declares use-regex."""
    paths = []
    for document in yaml.safe_load_all(text):
        regex = (document["metadata"].get("annotations") or {}).get("nginx.ingress.kubernetes.io/use-regex")
        for rule in document["spec"]["rules"]:
            for item in rule["http"]["paths"]:
                kind = "Regex" if regex == "true" and item["pathType"] == "ImplementationSpecific" \
                    else item["pathType"]
                paths.append((kind, item["path"], item["backend"]["service"]["name"]))
    return paths


def ingress_route(paths, path: str) -> str | None:
    def matches(kind, pattern):
        if kind == "Exact":
            return path == pattern
        if kind == "Prefix":  # element-wise: /api/v1/lots serves /api/v1/lots/x, not /api/v1/lotsx
            return path == pattern.rstrip("/") or path.startswith(pattern.rstrip("/") + "/")
        return re.match(pattern, path, re.I) is not None
    candidates = [(pattern, service) for kind, pattern, service in paths if matches(kind, pattern)]
    return max(candidates, key=lambda c: len(c[0]))[1] if candidates else None


GATEWAYS = {"nginx": (lambda: nginx_locations(NGINX.read_text()), nginx_route),
            "ingress": (lambda: ingress_paths(INGRESS.read_text()), ingress_route)}


def test_each_documented_path_is_served_by_exactly_one_service(apps):
    """Else no prefix could route it: two services answering the same path is a contract error."""
    shared = [(method, path, owners) for _, method, path in documented(apps)
              if len(owners := [s for s, app in apps.items() if serves(app, method, path)]) != 1]
    assert shared == []


@pytest.mark.parametrize("gateway", GATEWAYS)
def test_the_gateway_routes_every_documented_path_to_the_service_that_serves_it(apps, gateway):
    read, route = GATEWAYS[gateway]
    rules = read()
    operations = documented(apps)
    assert len(operations) > 50  # the documents were read
    misrouted = [(method, path, service, route(rules, path)) for service, method, path in operations
                 if route(rules, path) != f"{service}-web"]
    assert misrouted == []


@pytest.mark.parametrize("gateway", GATEWAYS)
def test_the_gateway_routes_each_services_docs_and_health_and_the_rest_to_the_pages(gateway):
    read, route = GATEWAYS[gateway]
    rules = read()
    for service in SERVICES:
        for path in (f"/docs/{service}/", f"/docs/{service}/openapi.json", f"/health/{service}/ready",
                     f"/health/{service}/live"):
            assert route(rules, path) == f"{service}-web", path
    closed = ("/metrics", "/health/ready", "/api/v1/marketsx", "/docs/other/")
    for path in closed if gateway == "nginx" else ():  # the Ingress sends them to the pages (which answer 404)
        assert route(rules, path) is None, path
    for path in ("/", "/accueil", "/marches/x1", "/static/app.css"):  # the pages people use
        assert route(rules, path) == "web", path
