"""The web application's client of the services: what a page asks at once."""
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from web.services import EveryPage, Services


@pytest.fixture
def lots_api():
    """A list of 250 lots over HTTP, as the services page them; it notes every request it receives."""
    asked = []

    class Lots(BaseHTTPRequestHandler):
        def do_GET(self):
            asked.append(self.path)
            page = int(dict(part.split("=") for part in self.path.split("?")[1].split("&")).get("page", 1))
            body = json.dumps([{"id": f"lot-{n}"} for n in range((page - 1) * 100, min(page * 100, 250))]).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("X-Pagination", json.dumps({"total": 250}))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Lots)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", asked
    server.shutdown()


def test_two_parts_of_a_page_asking_the_same_list_share_one_call(lots_api):
    url, asked = lots_api
    services = Services({"markets": url}, timeout_s=5)
    found = services.gather("token", {
        "table": ("markets", "/api/v1/lots", {"sort": "end_date", "page": 1, "page_size": 100}),
        "choice": ("markets", "/api/v1/lots", {"sort": "end_date", "q": "", "page_size": 100}),
        "second_page": ("markets", "/api/v1/lots", {"sort": "end_date", "page": 2, "page_size": 100}),
        "whole": EveryPage("markets", "/api/v1/lots", {"sort": "end_date"})})
    assert found["table"].items() == found["choice"].items() == [{"id": f"lot-{n}"} for n in range(100)]
    assert found["second_page"].items()[0] == {"id": "lot-100"}
    assert len(found["whole"].items()) == 250
    # the table and the choice: one request; the second page; the whole list's three pages
    assert len(asked) == 5
