"""Browser tests: Debian's Chromium, driven by Playwright, on the web application of a whole stack
(every service under gunicorn, real Kafka and FerretDB). One stack for the whole folder; a test fails on
any error in the browser's console."""
import re
import shutil
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect, sync_playwright

from support.stacks import running_stack

SCREENSHOTS = Path(__file__).resolve().parents[1] / "screenshots"  # ignored by git: for a reviewer to look at
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
# axe-core's impacts that fail a page (minor and moderate ones are reported in the test's output)
BLOCKING_IMPACTS = ("serious", "critical")


@pytest.fixture(scope="package")
def stack(request, tmp_path_factory):
    yield from running_stack(request, tmp_path_factory)


@pytest.fixture(scope="package")
def browser():
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        pytest.fail("Chromium is not installed: tests/run.sh installs Debian's chromium package")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Browsing:
    """A person's browser tab on the web application, with the checks every page gets."""

    def __init__(self, page: Page, base_url: str):
        self.page = page
        self.base_url = base_url
        self.errors: list[tuple[str, str]] = []  # (message, address of what failed)
        self.refused_pages: set[str] = set()  # pages the application answered on purpose with 4xx (422, 403)
        page.on("console", lambda message: message.type == "error" and self.errors.append(
            (message.text, message.location.get("url", ""))))
        page.on("pageerror", lambda error: self.errors.append((str(error), "")))
        page.on("response", lambda response: response.request.resource_type == "document"
                and 400 <= response.status < 500 and self.refused_pages.add(response.url))

    @property
    def console_errors(self) -> list[str]:
        """Errors in the console, but Chromium's report of a page shown with its 4xx status (a refused form
        shown again, a page not open to the person): the page itself says it to the person."""
        return [text for text, url in self.errors
                if not (text.startswith("Failed to load resource") and url in self.refused_pages)]

    def open(self, path: str) -> Page:
        self.page.goto(self.base_url + path)
        return self.page

    def sign_in(self, person: str) -> None:
        """Through the development sign-in page, as a person of the demo list (its label)."""
        self.open("/connexion")
        self.page.get_by_label(person, exact=True).check()
        self.page.get_by_role("button", name="Se connecter").last.click()
        expect(self.page.get_by_role("button", name="Se déconnecter")).to_be_visible()

    def tab_to(self, locator, most: int = 60) -> None:
        """Press Tab until ``locator`` has the focus: the keyboard alone reaches it, and the focus shows."""
        for _ in range(most):
            if locator.evaluate("element => element === document.activeElement"):
                assert locator.evaluate("element => getComputedStyle(element).outlineStyle") != "none", \
                    f"{locator} has the focus but shows no outline"
                return
            self.page.keyboard.press("Tab")
        raise AssertionError(f"{locator} not reached with the Tab key")

    def check_accessibility(self) -> None:
        """axe-core on the page as it is: no serious or critical violation."""
        results = Axe().run(self.page)
        blocking = [v for v in results.response["violations"] if v.get("impact") in BLOCKING_IMPACTS]
        assert not blocking, f"{self.page.url}: " + "; ".join(
            f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}" for v in blocking)

    def screenshot(self, name: str) -> None:
        SCREENSHOTS.mkdir(exist_ok=True)
        self.page.screenshot(path=str(SCREENSHOTS / f"{re.sub(r'[^a-z0-9-]+', '-', name.lower())}.png"), full_page=True)


@pytest.fixture
def browsing(browser, stack):
    platform, _ = stack
    context = browser.new_context(locale="fr-FR", viewport={"width": 1280, "height": 900})
    tab = Browsing(context.new_page(), platform.config.web_app_url)
    yield tab
    context.close()
    assert not tab.console_errors, f"errors in the browser's console: {tab.console_errors}"


@pytest.fixture
def phone(browser, stack):
    """The same, on a phone-sized screen."""
    platform, _ = stack
    context = browser.new_context(locale="fr-FR", viewport={"width": 375, "height": 740}, is_mobile=True,
                                  has_touch=True)
    tab = Browsing(context.new_page(), platform.config.web_app_url)
    yield tab
    context.close()
    assert not tab.console_errors, f"errors in the browser's console: {tab.console_errors}"
