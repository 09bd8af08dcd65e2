"""explorer.html in a real browser: headless Chromium (Debian's ``chromium``) driven by
Playwright, the page opened from disk with every request other than the file itself blocked.

Marked ``browser``: ``.ci/run`` installs Chromium when it is missing and runs these after the
default suite (``pytest -m browser``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.cli import run_cli

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "Debian's chromium is needed: apt-get install chromium"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield launched
        launched.close()


def explorer_of(scenario: str, folder: Path) -> Path:
    done = run_cli("run", scenario, "--out", "out", cwd=folder)
    assert done.returncode == 0, done.stderr
    page = folder / "out" / "explorer.html"
    assert page.is_file()
    return page


class OpenedPage:
    """A page opened offline: what it tried to fetch and every error it logged."""

    def __init__(self, browser, path: Path):
        self.context = browser.new_context(viewport={"width": 1400, "height": 1200})
        self.blocked: list[str] = []
        self.errors: list[str] = []
        self.context.route("**/*", self.only_the_file(path))
        self.page = self.context.new_page()
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.goto(path.as_uri())
        self.page.wait_for_selector("[data-name=liquidated_long]", timeout=30_000)

    def only_the_file(self, path: Path):
        allowed = path.as_uri()

        def handle(route):
            if route.request.url == allowed:
                route.continue_()
            else:
                self.blocked.append(route.request.url)
                route.abort()

        return handle

    def text(self, name: str) -> str:
        return self.page.locator(f"[data-name={name}]").first.inner_text()

    def slider_time(self) -> float:
        return self.page.evaluate("() => Bokeh.documents[0].get_model_by_name('cursor').value")


@pytest.fixture(scope="module")
def default_page(browser, tmp_path_factory):
    path = explorer_of("default", tmp_path_factory.mktemp("explorer"))
    opened = OpenedPage(browser, path)
    yield opened, path
    opened.context.close()


def test_the_default_explorer_is_within_its_size_budget(default_page):
    _, path = default_page
    assert path.stat().st_size <= 5 * 1024 * 1024


def test_the_page_opens_offline_without_errors_or_requests(default_page):
    opened, _ = default_page
    assert opened.errors == []
    assert opened.blocked == []
    assert opened.text("liquidated_long") == "$0"  # the first frame: before the shock


def test_moving_the_slider_changes_the_counters_and_the_book(default_page):
    opened, _ = default_page
    page = opened.page
    before = (opened.text("liquidated_long"), opened.text("bid_1pct"), opened.text("mark"))
    handle = page.locator(".noUi-handle").first
    handle.focus()
    for _ in range(270):  # the keyboard moves the handle one frame (2 s) at a time
        page.keyboard.press("ArrowRight")
    page.wait_for_timeout(300)
    assert opened.slider_time() > 500
    after = (opened.text("liquidated_long"), opened.text("bid_1pct"), opened.text("mark"))
    assert after[0] != before[0] and after[0].startswith("$") and after[0] != "$0"
    assert after[1] != before[1]  # the book at the cursor has changed (the vacuum)
    assert after[2] != before[2]
    rows = page.locator(".slick-row").count()
    assert rows > 0  # the liquidations up to the cursor are listed
    assert opened.errors == [] and opened.blocked == []


def test_play_advances_the_cursor(default_page):
    opened, _ = default_page
    page = opened.page
    page.evaluate("() => { Bokeh.documents[0].get_model_by_name('cursor').value = 0; }")
    start = opened.slider_time()
    page.get_by_role("button", name="▶ play").click()
    page.wait_for_timeout(1200)
    page.get_by_role("button", name="❚❚ pause").click()
    assert opened.slider_time() > start


def test_the_market_picker_switches_a_multi_market_explorer(browser, tmp_path):
    path = explorer_of("contagion", tmp_path)
    opened = OpenedPage(browser, path)
    page = opened.page
    page.evaluate("() => { Bokeh.documents[0].get_model_by_name('cursor').value = 400; }")
    page.wait_for_timeout(300)
    btc = opened.text("liquidated_long"), opened.text("mark")
    page.locator("select").first.select_option("ETH-binance")
    page.wait_for_timeout(300)
    eth = opened.text("liquidated_long"), opened.text("mark")
    assert eth != btc
    assert "ETH-binance" in page.locator(".counters").first.inner_text()
    price = float(eth[1].replace(",", ""))
    assert 1_000 < price < 10_000  # ETH's mark, not BTC's
    assert opened.errors == [] and opened.blocked == []
    opened.context.close()


def test_the_second_column_sums_a_venue_or_an_asset(browser, tmp_path):
    path = explorer_of("contagion", tmp_path)
    opened = OpenedPage(browser, path)
    page = opened.page
    page.evaluate("() => { Bokeh.documents[0].get_model_by_name('cursor').value = 1500; }")
    page.wait_for_timeout(300)
    table = page.locator(".counters").first
    everything = table.inner_text()
    options = page.locator("select").nth(1).locator("option").all_inner_texts()
    assert "venue: binance" in options and "asset: BTC" in options
    page.locator("select").nth(1).select_option("asset: BTC")
    page.wait_for_timeout(300)
    btc = table.inner_text()
    assert "asset: BTC" in btc and btc != everything
    assert opened.errors == [] and opened.blocked == []
    opened.context.close()


def test_the_report_fits_1280_px_and_prints_to_pdf_with_every_section(browser, default_page):
    from io import BytesIO

    from pypdf import PdfReader

    _, explorer = default_page
    report = explorer.parent / "report.html"
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(report.as_uri())
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 1280  # nothing runs off the right edge
    headings = page.locator("h2").all_inner_texts()
    assert "The cascade, step by step" in headings and "By market" in headings
    pdf = PdfReader(BytesIO(page.pdf(format="A4", print_background=True)))
    text = "\n".join(p.extract_text() for p in pdf.pages)
    for heading in headings:
        assert heading in text, heading
    assert len(pdf.pages) >= len(headings)  # a page break before each section
    context.close()
