"""explorer.html (issue 18): page size against its 5 MB budget, and the time to build it.

For each scenario (default: ``default``, ``gentle``, ``contagion``) runs it once, then builds
the explorer page ``--repeat`` times and reports the median build time and the page's size,
with the size of the embedded BokehJS apart (what the data costs is the difference).
``--screenshots DIR`` also opens the default run's page in headless Chromium (Debian's
``chromium``) and saves it at three moments: before the shock, at the trough, after.

    python benchmarks/bench_explorer.py [--repeat 3] [--json FILE] [--screenshots docs/explorer]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bokeh.resources import INLINE  # noqa: E402

from cascadesim.report.explorer import explorer_html  # noqa: E402
from cascadesim.scenario.bundled import resolve_scenario  # noqa: E402
from cascadesim.scenario.models import Scenario  # noqa: E402
from cascadesim.sim.driver import simulate  # noqa: E402

BUDGET_BYTES = 5 * 1024 * 1024


def measure(name: str, repeat: int) -> tuple[dict, str, object]:
    result = simulate(Scenario.from_toml(resolve_scenario(name)))
    times, html = [], ""
    for _ in range(repeat):
        started = time.perf_counter()
        html = explorer_html(result, f"cascadesim explorer: {name}")
        times.append(time.perf_counter() - started)
    size = len(html.encode("utf-8"))
    return (
        {
            "scenario": name,
            "markets": len(result.market_names),
            "events": int(result.outcome.events.size),
            "build_s_median": statistics.median(times),
            "page_bytes": size,
            "within_budget": size <= BUDGET_BYTES,
        },
        html,
        result,
    )


def screenshots(html: str, result, folder: Path) -> list[str]:
    from playwright.sync_api import sync_playwright

    timeline = result.outcome.timeline[:, 0]
    low = float(timeline["time"][int(timeline["mark_price"].argmin())])
    moments = {"before": 250.0, "trough": low, "after": float(timeline["time"][-1]) - 600.0}
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory() as scratch, sync_playwright() as playwright:
        page_path = Path(scratch) / "explorer.html"
        page_path.write_text(html, encoding="utf-8")
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium",
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page(viewport={"width": 1400, "height": 1250})
        page.goto(page_path.as_uri())
        page.wait_for_selector("[data-name=liquidated_long]")
        for label, seconds in moments.items():
            page.evaluate(
                f"() => {{ Bokeh.documents[0].get_model_by_name('cursor').value = {seconds}; }}"
            )
            page.wait_for_timeout(500)
            target = folder / f"default-{label}.png"
            page.screenshot(path=str(target), full_page=True)
            written.append(str(target))
        browser.close()
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scenarios", nargs="*", default=["default", "gentle", "contagion"])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--screenshots", type=Path)
    arguments = parser.parse_args()
    bokeh_bytes = sum(len(js.encode("utf-8")) for js in INLINE.js_raw[:4])
    rows = []
    for name in arguments.scenarios:
        figures, html, result = measure(name, arguments.repeat)
        rows.append(figures)
        print(json.dumps(figures))
        if arguments.screenshots and name == "default":
            print(screenshots(html, result, arguments.screenshots))
    report = {"bokehjs_bytes_upper_bound": bokeh_bytes, "budget_bytes": BUDGET_BYTES, "runs": rows}
    if arguments.json:
        arguments.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
