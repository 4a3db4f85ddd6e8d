"""The animator in headless Chromium: frame time while playing, time to an interactive view, bytes moved.

    python -m bench.frame_time [--seconds 3]

Starts its own server on 127.0.0.1, opens each view in a fresh browser context (cold cache, gzip on),
and prints one table:

- frame p50/p95: intervals between requestAnimationFrame callbacks while /conv plays at 60 frames/s
  (the display's budget is 16.7 ms); work p50/p95: the time the page spends drawing one frame
  (User Timing measures the player takes when asked to);
- ready: navigation start to the view drawn and answering (the page's "convscope:ready" mark);
- bytes: everything transferred for the view, compressed, from Resource Timing.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics

from .common import Row, machine, serve

CHROMIUM = os.environ.get("CONVSCOPE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]

# Runs in the page: rAF intervals for `ms` milliseconds while the player plays.
RAF = """ms => new Promise(done => {
  const gaps = []; let last = null; const end = performance.now() + ms;
  function tick(t) { if (last !== null) gaps.push(t - last); last = t;
    if (t < end) requestAnimationFrame(tick); else done(gaps); }
  requestAnimationFrame(tick);
})"""
READY = "() => (performance.getEntriesByName('convscope:ready')[0] || {}).startTime"
BYTES = """() => performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource'))
  .reduce((n, e) => n + (e.transferSize || 0), 0)"""
WORK = "() => performance.getEntriesByName('convscope:frame').map(e => e.duration)"


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * (len(values) - 1) + 0.5))] if values else float("nan")


def measure(browser, url: str, play_seconds: float, presenter: bool = False) -> dict:
    """presenter: at 1920×1080 in presenter mode (grids fitted to the screen), else a 1400×1000 window."""
    size = {"width": 1920, "height": 1080} if presenter else {"width": 1400, "height": 1000}
    context = browser.new_context(viewport=size)
    page = context.new_page()
    page.goto(url)
    page.wait_for_selector("body[data-ready='true']", timeout=60_000)
    row = {"ready_ms": page.evaluate(READY), "bytes": page.evaluate(BYTES)}
    if presenter:
        page.keyboard.press("p")
        page.wait_for_selector("body.presenter[data-stage-fit]", timeout=60_000)
        page.wait_for_timeout(500)  # the full-screen resize, debounced, fits once more
    if play_seconds:
        page.evaluate("() => { document.getElementById('player').dataset.perf = '1'; performance.clearMeasures(); }")
        page.click("#player [data-act=play]")
        gaps = page.evaluate(RAF, int(play_seconds * 1000))
        frames = int(page.get_attribute("#player", "data-frame"))
        work = page.evaluate(WORK)
        page.click("#player [data-act=play]")
        row |= {"frame_p50": statistics.median(gaps), "frame_p95": pct(gaps, 0.95), "work_p50": statistics.median(work),
                "work_p95": pct(work, 0.95), "frames": frames,
                "late": sum(g > 25 for g in gaps) / max(1, len(gaps))}  # a display refresh missed
    context.close()
    return row


CASES = [("/conv 32×32 (3×3, pad 1)", "/conv?h=32&w=32&padding=1&speed=60", True),
         ("/conv 64×64 (3×3, pad 1)", "/conv?h=64&w=64&padding=1&speed=60", True),
         ("/conv 64×64, 4→4 ch, groups 2", "/conv?h=64&w=64&c=4&o=4&groups=2&padding=1&speed=60", True),
         ("/transpose", "/transpose", False), ("/pool", "/pool", False), ("/matrices", "/matrices", False),
         ("/receptive-field", "/receptive-field", False), ("/ (home; Plotly fetched after drawing)", "/", False)]
PRESENTER = "presenter 1080p: "  # a case whose name starts so is measured in presenter mode at 1920×1080
CASES.insert(3, (PRESENTER + "/conv 64×64, 4→4 ch, groups 2", "/conv?h=64&w=64&c=4&o=4&groups=2&padding=1&speed=60", True))
BUDGET_MS = 1000 / 60


def measure_views(seconds: float = 3.0, cases: list[tuple[str, str, bool]] = CASES) -> list[tuple[str, dict]]:
    """One (view, measures) pair per case, each in a fresh browser context against one server."""
    from playwright.sync_api import sync_playwright

    with serve() as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        measure(browser, url + "/conv", 0)  # warm the server (imports, first torch call)
        rows = [(name, measure(browser, url + path, seconds if play else 0, name.startswith(PRESENTER)))
                for name, path, play in cases]
        browser.close()
    return rows


def table_rows(views: list[tuple[str, dict]]) -> list[Row]:
    out = []
    for name, r in views:
        if "frame_p50" in r:
            out.append(Row("frames", f"{name}: frame p50 / p95 (draw p95)",
                           f"{r['frame_p50']:.1f} / {r['frame_p95']:.1f} ms ({r['work_p95']:.1f} ms)",
                           f"p95 {r['frame_p95'] / BUDGET_MS:.2f} of the 16.7 ms budget"))
        else:
            out.append(Row("frames", f"{name}: ready, bytes", f"{r['ready_ms'] / 1000:.2f} s, {r['bytes'] / 1000:,.0f} KB",
                           "—"))
    return out


def run(quick: bool = False) -> list[Row]:
    cases = ([c for c in CASES if c[2]][:2] + [c for c in CASES if not c[2]][-1:]) if quick else CASES
    return table_rows(measure_views(1.0 if quick else 3.0, cases))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="seconds of playing per size")
    args = parser.parse_args()
    rows = measure_views(args.seconds)
    print(f"convscope animator · headless Chromium · {machine()}")
    print(f"{'view':50} {'frame p50':>9} {'p95':>6} {'late':>5} {'work p50':>9} {'p95':>6} {'ready':>8} {'bytes':>10}")
    for name, r in rows:
        frame = (f"{r['frame_p50']:7.1f}ms {r['frame_p95']:5.1f} {r['late']:5.0%} {r['work_p50']:7.2f}ms {r['work_p95']:5.2f}"
                 if "frame_p50" in r else f"{'—':>9} {'—':>6} {'—':>5} {'—':>9} {'—':>6}")
        print(f"{name:50} {frame} {r['ready_ms']:6.0f}ms {r['bytes']:>10,}")
    print("frame: rAF interval while playing at 60 frames/s (budget 16.7 ms); late: intervals over 25 ms; "
          "work: drawing one frame; "
          "ready: navigation → view drawn; bytes: transferred, gzip, cold cache.")


if __name__ == "__main__":
    main()
