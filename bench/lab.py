"""The image lab in headless Chromium: an edit to redrawn maps, and the live camera's updates per second.

    python -m bench.lab [--edits 20] [--seconds 5]

Starts its own server on 127.0.0.1, opens /lab?sample=chelsea at 256 px with the default preset, and prints:

- edit → maps p50/p95: from an edit (the layers' JSON applied) to every map of the new run drawn, which
  includes the edit itself (a lone edit runs at once, in a microtask; a burst waits 60 ms); run → maps: the same without the debounce (the Run button);
- live: updates per second with Chromium's fake camera, one frame in flight, newer frames dropped.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time

from .common import Row, machine, serve
from .frame_time import ARGS, CHROMIUM, pct

# Runs in the page: trigger an edit (or a Run) and resolve when the next run has drawn its maps.
TIMED = """([how, layers]) => new Promise((done) => {
  const runs = document.body.dataset.runs;
  const t0 = performance.now();
  if (how === 'edit') { document.getElementById('lab-json').value = layers;
    document.getElementById('lab-json-apply').click(); }
  else document.getElementById('lab-run').click();
  (function poll() {
    const b = document.body.dataset;
    if (b.runs !== runs && b.ran === 'true') requestAnimationFrame(() => done(performance.now() - t0));
    else setTimeout(poll, 2);
  })();
})"""
DEFAULT = [{"op": "conv2d", "kernel": "sobel_x", "mode": "shared", "padding": 1}, {"op": "relu"},
           {"op": "max_pool2d", "kernel_size": 2}]


def measure(edits: int = 20, seconds: float = 5.0) -> dict:
    from playwright.sync_api import sync_playwright

    with serve() as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM,
                                    args=ARGS + ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"])
        page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
        page.goto(url + "/lab?sample=chelsea&side=256")
        page.wait_for_selector("body[data-ran='true']", timeout=60_000)
        edit, run = [], []
        for i in range(edits):
            layers = [dict(DEFAULT[0], padding=i % 2), *DEFAULT[1:]]
            edit.append(page.evaluate(TIMED, ["edit", json.dumps(layers)]))
            run.append(page.evaluate(TIMED, ["run", ""]))
        page.click("#lab-camera")
        page.wait_for_selector("#lab-webcam:not([hidden])")
        page.click("#lab-live")
        deadline = time.monotonic() + 30
        while page.evaluate("Number(document.body.dataset.liveUpdates || 0)") < 3 and time.monotonic() < deadline:
            time.sleep(0.1)  # polled here: wait_for_function evaluates strings, which the page's CSP forbids
        n0, t0 = page.evaluate("[Number(document.body.dataset.liveUpdates), performance.now()]")
        time.sleep(seconds)
        n1, t1 = page.evaluate("[Number(document.body.dataset.liveUpdates), performance.now()]")
        browser.close()
    return {"edit_p50": statistics.median(edit), "edit_p95": pct(edit, 0.95), "run_p50": statistics.median(run),
            "run_p95": pct(run, 0.95), "live": (n1 - n0) * 1000 / (t1 - t0)}


def run(quick: bool = False, edits: int | None = None, seconds: float | None = None) -> list[Row]:
    r = measure(edits or (5 if quick else 20), seconds or (2.0 if quick else 5.0))
    return [Row("lab", "edit → maps drawn p50 / p95 (256 px, lone edit)", f"{r['edit_p50']:.0f} / {r['edit_p95']:.0f} ms",
                f"p95 {r['edit_p95'] / 150:.2f} of 150 ms"),
            Row("lab", "Run → maps drawn p50 / p95 (256 px)", f"{r['run_p50']:.0f} / {r['run_p95']:.0f} ms",
                f"p95 {r['run_p95'] / 150:.2f} of 150 ms"),
            Row("lab", "live camera updates/s (256 px, default preset)", f"{r['live']:.1f} /s", f"{r['live'] / 10:.2f} of 10/s")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edits", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    print(f"convscope image lab · headless Chromium · {machine()}")
    for row in run(edits=args.edits, seconds=args.seconds):
        print(f"{row.measure:58} {row.value:>16}  {row.ratio}")


if __name__ == "__main__":
    main()
