"""Browser tests: the whole portal as real processes (tests/browser/system.py), driven by
Debian's headless Chromium. Every test gets a fresh browser context and fails on any console
error or uncaught page error it did not declare as expected."""

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from service_kit.config import REPO_ROOT
from tests.browser.system import PortalSystem
from tests.support.databases import database_backends

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = REPO_ROOT / "docs" / "screenshots"


def pytest_collection_modifyitems(items):
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.path)).parent == here:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def portal(tmp_path_factory) -> Iterator[PortalSystem]:
    """The portal on PostgreSQL, as in production, when TEST_DATABASE_URL names a server;
    otherwise on SQLite. Each service database test covers both backends already."""
    backend = database_backends()[-1]
    with PortalSystem(tmp_path_factory.mktemp("portal"), backend) as system:
        yield system


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing: install it with `apt-get install -y chromium`"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class ConsoleProblems:
    """Console errors and uncaught page errors; a test names the failures it expects."""

    def __init__(self):
        self.messages: list[str] = []
        self.expected: list[re.Pattern] = []

    def expect(self, pattern: str) -> None:
        self.expected.append(re.compile(pattern))

    def add(self, text: str) -> None:
        self.messages.append(text)

    def unexpected(self) -> list[str]:
        return [m for m in self.messages if not any(p.search(m) for p in self.expected)]


@pytest.fixture
def console_problems() -> ConsoleProblems:
    return ConsoleProblems()


def _open_context(browser, portal, console_problems, **options):
    context = browser.new_context(base_url=portal.url, locale="ru-RU", **options)
    context.set_default_timeout(10_000)
    page = context.new_page()

    def on_console(message):
        if message.type == "error":
            console_problems.add(f"console: {message.text} @ {message.location.get('url', '')}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: console_problems.add(f"pageerror: {error}"))
    return context, page


@pytest.fixture
def page(browser, portal, console_problems):
    """A fresh browser context (nothing stored) in a desktop-sized window."""
    context, page = _open_context(
        browser, portal, console_problems, viewport={"width": 1280, "height": 860}
    )
    yield page
    context.close()
    assert console_problems.unexpected() == [], "errors in the browser console"


@pytest.fixture
def phone_page(browser, portal, console_problems):
    """A 390 px wide touch screen, like a current phone."""
    context, page = _open_context(
        browser,
        portal,
        console_problems,
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )
    yield page
    context.close()
    assert console_problems.unexpected() == [], "errors in the browser console"


@pytest.fixture(scope="session")
def screenshot():
    """screenshot(page, "courses.png"): a picture of the view for docs/screenshots/, with
    animations finished and no caret, so reruns give the same picture."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page, name: str, *, full_page: bool = False) -> None:
        page.screenshot(
            path=SCREENSHOTS / name, full_page=full_page, animations="disabled", caret="hide"
        )

    return take
