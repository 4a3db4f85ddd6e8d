"""Time to first drawing of every page, cold, in headless Chromium: python -m bench.first_draw [--repeats 5]

Starts its own server on 127.0.0.1 and opens each page in a fresh browser context (empty cache, gzip on).
"first drawing" is navigation start to the moment the page says it has drawn (body[data-ready="true"]; on /lab,
whose controls are ready before its maps, body[data-ran="true"]: its first run's maps drawn),
seen by a MutationObserver installed before any of the page's scripts run, so every page is timed the same
way. Also: whether Plotly.js was fetched during that first drawing, and the bytes moved by then. The ratio
column compares each page's median with the fastest page's (the goal: at most 1.2×).
"""
from __future__ import annotations

import argparse
import statistics

from .common import Row, machine, serve
from .frame_time import ARGS, CHROMIUM

PAGES = ["/", "/conv", "/transpose", "/pool", "/matrices", "/receptive-field", "/backprop", "/fully-convolutional",
         "/equivariance", "/lab"]
# The attribute that marks a page's first drawing: data-ready, except on /lab, which is ready (its controls
# work, its image is shown) before its first run's maps arrive, and marks those drawn with data-ran.
DRAWN_BY = {"/lab": "ran"}
WATCH = """(() => {
  const mark = (%s).includes(location.pathname) ? "ran" : "ready";
  const seen = () => { if (document.body && document.body.dataset[mark] === "true" && !window.__drawn) {
    window.__drawn = performance.now(); } };
  new MutationObserver(seen).observe(document, { attributes: true, subtree: true, attributeFilter: ["data-" + mark] });
})();""" % [path for path, mark in DRAWN_BY.items() if mark == "ran"]
STATE = """() => ({ drawn: window.__drawn,
  plotly: performance.getEntriesByType('resource').some((e) => e.name.includes('/vendor/plotly')
    && e.startTime <= window.__drawn),
  bytes: performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource'))
    .filter((e) => e.startTime <= window.__drawn).reduce((n, e) => n + (e.transferSize || 0), 0) })"""


def measure(browser, url: str) -> dict:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.add_init_script(WATCH)
    page = context.new_page()
    page.goto(url)
    page.wait_for_function("() => window.__drawn !== undefined", timeout=60_000)
    row = page.evaluate(STATE)
    context.close()
    return row


def measure_pages(repeats: int = 5, pages: list[str] = PAGES) -> list[tuple[str, dict]]:
    from playwright.sync_api import sync_playwright

    with serve() as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        for path in pages:  # warm the server: imports, the first torch call of each endpoint
            measure(browser, url + path)
        runs: dict[str, list[dict]] = {path: [] for path in pages}
        for _ in range(repeats):  # page after page, round after round: a drift of the machine hits every page alike
            for path in pages:
                runs[path].append(measure(browser, url + path))
        browser.close()
    return [(path, {"ms": statistics.median(r["drawn"] for r in rs), "plotly": any(r["plotly"] for r in rs),
                    "bytes": rs[-1]["bytes"]}) for path, rs in runs.items()]


def table_rows(pages: list[tuple[str, dict]]) -> list[Row]:
    fastest = min(r["ms"] for _, r in pages)
    return [Row("first draw", f"{path}{' (with Plotly)' if r['plotly'] else ''}",
                f"{r['ms'] / 1000:.2f} s, {r['bytes'] / 1000:,.0f} KB", f"{r['ms'] / fastest:.2f}× the fastest")
            for path, r in pages]


def run(quick: bool = False) -> list[Row]:
    return table_rows(measure_pages(1 if quick else 5))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="cold loads per page (the median is reported)")
    args = parser.parse_args()
    rows = measure_pages(args.repeats)
    fastest = min(r["ms"] for _, r in rows)
    print(f"convscope pages · time to first drawing, cold · headless Chromium · {machine()}")
    print(f"{'page':24} {'first draw':>10} {'× fastest':>9} {'Plotly':>7} {'bytes':>10}")
    for path, r in rows:
        print(f"{path:24} {r['ms']:8.0f}ms {r['ms'] / fastest:8.2f}× {'yes' if r['plotly'] else 'no':>7} {r['bytes']:>10,}")


if __name__ == "__main__":
    main()
