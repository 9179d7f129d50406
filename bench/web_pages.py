"""Server time of every page of the web application on a region of realistic size (printed figures, not a test).

    .venv/bin/python bench/web_pages.py                       # 500 markets, 2,000 participants, ~50,000 lines
    .venv/bin/python bench/web_pages.py --markets 60 --participants 300 --team 1 --requests 10   # a quick look

Starts its own stack (bench/ingestion.py's: Apache Kafka, FerretDB, the services and the web application under
gunicorn, in a temporary folder), loads the region through the APIs (deploy/local/demo_region.py: markets, lots
in every status, participants, months of declaration lines sent in batches), signs in on the web application's
development page as a facilitator of every territory (and, for the pages of other roles, as an operator, a
buyer and a company's staff member, or not signed in), then asks every GET page the web application registers (found in its
Flask url_map: pages written later are measured too; a page with ids in its address gets real ones, a download
each kind of file it serves, the markets' and participants' lists a word search too) N times and prints the median
and p95 of the time to answer, as the client on the same machine sees it.
Target (issue 13): every page under 300 ms at the median, under 800 ms at p95.
"""
import argparse
import os
import re
import signal
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "deploy" / "local"))

import requests  # noqa: E402

from demo_region import RegionSize, seed_region  # noqa: E402
from ingestion import Stack, pct  # noqa: E402

# Not pages: assets, probes, signing in and out, the identity provider's round trip.
SKIPPED = re.compile(r"^(static|ready|live|auth\.)|\.(static)$")
# The downloads: the argument naming the file's kind, and each kind (every one is measured).
KINDS = {"participants.export": ("kind", ("html", "json")), "participants.import_template": ("kind", ("csv", "xlsx")),
         "company.template": ("extension", ("csv", "xlsx")), "company.error_file": ("extension", ("csv", "xlsx")),
         "statistics.table_file": ("fmt", ("csv", "xlsx")), "statistics.panorama": ("fmt", ("html", "pdf")),
         "statistics.market_report": ("fmt", ("html", "pdf"))}
# What a page's query must say (with real ids), where it has nothing to show without it.
QUERIES = {"statistics.panorama": "?annee={year}", "statistics.market_report": "?marche={market_id}"}
# Word searches, measured beside the pages they are typed on (the address alone does not search).
SEARCHES = {"markets.index": "/marches?q=ecole", "participants.index": "/participants?q=mar"}
# A payroll file with a row refused (an unknown lot): its refused rows are a file to download.
REFUSED_ROW = b"lot_id;participant_id;month;hours;mode;contract_type\nlot-inconnu;P-1;2026-01;10;direct_hire;cdd\n"
MEDIAN_TARGET_MS, P95_TARGET_MS = 300, 800


def web_rules(env: dict[str, str]) -> list:
    """Every GET address of the web application, from its own url_map (as configured for this stack)."""
    os.environ.update(env)
    from web.app import create_app
    app = create_app()
    return sorted((rule for rule in app.url_map.iter_rules()
                   if "GET" in rule.methods and not SKIPPED.search(rule.endpoint)), key=lambda r: r.rule)


def sign_in(base_url: str, person_id: str) -> requests.Session:
    """Through the development sign-in page, as a browser does: its form, its CSRF token."""
    browser = requests.Session()
    form = browser.get(f"{base_url}/connexion", timeout=60).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    answer = browser.post(f"{base_url}/connexion/demo", data={"csrf_token": token, "person": person_id},
                          timeout=60, allow_redirects=False)
    if answer.status_code != 302 or "connexion" in answer.headers.get("Location", ""):
        raise RuntimeError(f"signing in as {person_id} failed: {answer.status_code}")
    return browser


def real_ids(platform, seeded: dict) -> dict[str, str]:
    """A real value for each kind of id a page's address may hold."""
    headers = platform.token("facilitator", "aude-carcassonne-agglo", "aude-departement", "aude-grand-narbonne")
    lot = next(lot for market, plan, lot in seeded["lots"] if plan.target == "at_risk")
    alerts = platform.call("GET", "notifications", "/api/v1/alerts?page_size=1", headers)
    lines = platform.call("GET", "hours", f"/api/v1/declarations?lot_id={lot['id']}&page_size=1", headers)
    keys = platform.call("GET", "hours", f"/api/v1/contractors/{lot['contractor_siret']}/api-keys", headers)
    recipients = platform.call("GET", "notifications", "/api/v1/recipients?page_size=1", headers)
    staff = platform.token("contractor", *lot["territories"], siret=lot["contractor_siret"])
    sent = platform.http.post(platform.config.url("hours") + "/api/v1/declarations/upload", headers=staff,
                              files={"file": ("paie.csv", REFUSED_ROW, "text/csv")}, timeout=60)
    ids = {"lot_id": lot["id"], "market_id": lot["market_id"], "participant_id": seeded["participants"][0],
           "siret": lot["contractor_siret"], "contractor_siret": lot["contractor_siret"],
           "buyer_id": platform.call("GET", "markets", f"/api/v1/markets/{lot['market_id']}", headers)["buyer_id"],
           "alert_id": alerts[0]["id"] if alerts else None, "declaration_id": lines[0]["id"] if lines else None,
           "line_id": lines[0]["line_id"] if lines else None, "key_id": keys[0]["key_id"] if keys else None,
           "territory": lot["territories"][0], "territory_id": lot["territories"][0],
           "code": platform.call("GET", "markets", "/api/v1/trades", headers)[0]["code"],
           "recipient_id": recipients[0]["id"] if recipients else None, "upload_id": sent.json().get("upload_id"),
           "year": str(date.today().year)}
    return {name: value for name, value in ids.items() if value}


def addresses(rule, ids: dict[str, str]) -> list[str] | None:
    """The rule's path with real ids and the query it needs, once per kind of file it serves; None when it takes an
    id this bench does not know."""
    kind, kinds = KINDS.get(rule.endpoint, (None, ()))
    path = rule.rule
    for name in rule.arguments - {kind}:
        if name not in ids:
            return None
        path = re.sub(rf"<(?:[^:<>]+:)?{name}>", ids[name], path)
    path += QUERIES.get(rule.endpoint, "").format(**ids)
    if kind:
        return [re.sub(rf"<(?:[^:<>]+:)?{kind}>", each, path) for each in kinds]
    return [path] + ([SEARCHES[rule.endpoint]] if rule.endpoint in SEARCHES else [])


def measure(browsers: dict[str, requests.Session], base_url: str, path: str, times: int) -> dict:
    """Ask the page ``times`` times as the first person it opens to (not refused, not sent elsewhere)."""
    for who, browser in browsers.items():
        first = browser.get(base_url + path, timeout=60, allow_redirects=False)
        if first.status_code == 200:
            break
    else:
        return {"who": "-", "status": first.status_code}
    elapsed = []
    for _ in range(times):
        started = time.perf_counter()
        answer = browser.get(base_url + path, timeout=60, allow_redirects=False)
        elapsed.append((time.perf_counter() - started) * 1000)
        if answer.status_code != 200:
            return {"who": who, "status": answer.status_code}
    return {"who": who, "status": 200, "median": statistics.median(elapsed), "p95": pct(elapsed, 0.95),
            "bytes": len(answer.content)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--markets", type=int, default=500)
    parser.add_argument("--participants", type=int, default=2000)
    parser.add_argument("--team", type=int, default=5, help="people on each running lot: the number of lines")
    parser.add_argument("--requests", type=int, default=20, help="times each page is asked")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the stack on kill too, not only on Ctrl-C
    with tempfile.TemporaryDirectory(prefix="bench-web-pages-") as tmp:
        stack = Stack(Path(tmp), "postgresql")
        try:
            started = time.perf_counter()
            platform = stack.start()
            print(f"stack started in {time.perf_counter() - started:.0f} s", flush=True)
            seeded = seed_region(platform, RegionSize(args.markets, args.participants, args.team),
                                 out=lambda line: print(line, flush=True))
            loaded = time.perf_counter()
            quiet = stack.settle(timeout=600)  # every worker has caught up: the pages are measured on a quiet stack
            print(f"region loaded and counted in {loaded - started:.0f} s: {seeded['markets']} markets, "
                  f"{len(seeded['lots'])} lots, {len(seeded['participants'])} participants, {seeded['lines']} lines; "
                  f"the stack {'quiet' if quiet else 'still busy'} after {time.perf_counter() - loaded:.0f} s more",
                  flush=True)
            base_url = platform.config.web_app_url
            ids = real_ids(platform, seeded)
            browsers = {who: sign_in(base_url, person) for who, person in [
                ("facilitator", "demo-facilitator"), ("operator", "demo-operator"),
                ("buyer", f"demo-buyer-{ids['buyer_id']}"), ("contractor", f"demo-company-{ids['siret']}")]}
            browsers["anyone"] = requests.Session()  # the one-stop shop's page is for who has not signed in
            rows = []
            for rule in web_rules(platform.config.web_app_env()):
                for path in addresses(rule, ids) or [None]:
                    unknown = {"who": "-", "status": "no id"}
                    rows.append((rule.endpoint, path or rule.rule,
                                 measure(browsers, base_url, path, args.requests) if path else unknown))
        finally:
            stack.stop()
    print(f"\n{'page':<32} {'address':<48} {'as':<12} {'median':>8} {'p95':>8}  target")
    for endpoint, path, found in rows:
        if found["status"] != 200:
            print(f"{endpoint:<32} {path:<48} {found['who']:<12} {'':>8} {'':>8}  not measured ({found['status']})")
            continue
        met = found["median"] < MEDIAN_TARGET_MS and found["p95"] < P95_TARGET_MS
        print(f"{endpoint:<32} {path:<48} {found['who']:<12} {found['median']:>6.0f}ms {found['p95']:>6.0f}ms  "
              f"{'met' if met else 'NOT MET'}")
    print(f"\nmachine: {os.getloadavg()[0]:.1f} {os.getloadavg()[1]:.1f} {os.getloadavg()[2]:.1f} (load, 1/5/15 min), "
          f"{os.cpu_count()} cores")


if __name__ == "__main__":
    sys.exit(main())
