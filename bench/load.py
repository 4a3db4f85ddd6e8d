"""A lecture against a real server on 127.0.0.1, then an overload that it must shed (not a test).

    python -m bench.load [--quick] [--students N] [--workers N] [--env CONVSCOPE_X=V ...]

The lecture: students arrive over a minute (`arrival_s`), each uploads a 512×512 RGB photo of
their own (PNG or JPEG, different bytes per student, so the content-addressed store really holds
one image per student) and runs the lab's three-layer pipeline; then the lecturer says "everyone
press run now" (`bursts` times) and each student clicks after a human reaction time (log-normal,
median 2.5 s). Notebook autograders run throughout: create an exercise, compute it with
/ops/{op}, grade the answer (which must come back correct). A student whose image was evicted
(404) uploads it again and retries, as the page does; the 404 still counts as an error.

The overload: `overload_waves` waves of `overload_requests` simultaneous pipelines, far past the
compute queue; the server must answer the excess at once with 503 + Retry-After in the envelope,
keep its memory flat, and serve the next request normally.

Everything is bounded: counts are fixed, every request has a 30 s timeout, and the whole run has a
deadline. The client shares the machine's cores with the server, so it is kept light: the pictures
are made before the server starts, each simulated person has their own small connection pool
(bench/load_client.py says why), and its event-loop lag and CPU time are reported beside the
server's, so that a reader can tell the server's latency from the client's.
"""
from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import random
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import httpx

from . import lecture as scenario_data
from .common import Row, machine, percentile, serve_process
from .lecture import KERNELS, SHAPE_KINDS, VALUE_KINDS, Exercise, next_exercise, reaction_s, student_image
from .load_client import REQUEST_TIMEOUT_S, Crowd, Image, Recorder, Sample, User
from .procmem import RssSampler, tree_cpu_seconds

GIB = 1024**3
GOAL_P99_S = 3.0
GOAL_RSS = 3 * GIB
OVERLOAD_IMAGE = 10_000_000  # a seed no student has


@dataclass(frozen=True)
class Scenario:
    students: int = 300
    arrival_s: float = 60.0
    bursts: int = 2
    burst_gap_s: float = 15.0  # from the end of arrivals to the first burst, and between bursts
    reaction_cap_s: float = 12.0
    graders: int = 10
    grader_rounds: int = 40
    grader_think_s: tuple[float, float] = (1.0, 4.0)
    overload_requests: int = 400
    overload_waves: int = 3

    @property
    def deadline_s(self) -> float:
        """A hard stop well past the planned timeline: arrivals, bursts, and room for a slow server."""
        return self.arrival_s + (self.bursts + 1) * (self.burst_gap_s + self.reaction_cap_s) + 240


FULL = Scenario()
QUICK = Scenario(students=30, arrival_s=8, bursts=1, burst_gap_s=4, reaction_cap_s=6, graders=3, grader_rounds=8,
                 overload_requests=150, overload_waves=1)


async def _sleep_until(t: float) -> None:
    await asyncio.sleep(max(0.0, t - time.monotonic()))


async def student(crowd: Crowd, sc: Scenario, i: int, t0: float, rng: random.Random) -> None:
    await _sleep_until(t0 + sc.arrival_s * i / max(1, sc.students - 1) + rng.uniform(0, 0.5))
    runs = [(0.0, KERNELS[0])]
    for b in range(sc.bursts):
        start = sc.arrival_s + (b + 1) * (sc.burst_gap_s + sc.reaction_cap_s)
        runs.append((start + reaction_s(rng, sc.reaction_cap_s), KERNELS[(b + 1) % len(KERNELS)]))
    async with crowd.user() as me:
        image_id = await me.upload("lecture", i)
        if image_id is None:
            return
        for at, kernel in runs:
            await _sleep_until(t0 + at)
            if await me.pipeline("lecture", image_id, kernel) == 404:  # evicted: upload again, as the page does
                image_id = await me.upload("lecture", i) or image_id
                await me.pipeline("lecture", image_id, kernel)


async def grader(crowd: Crowd, sc: Scenario, g: int, done: asyncio.Event) -> None:
    """A notebook: create an exercise, compute it with the served op, grade it (it must be correct)."""
    rng = random.Random(1000 + g)
    async with crowd.user() as me:
        for _ in range(sc.grader_rounds):
            if done.is_set():
                return
            await _grade_one(me, next_exercise(rng))
            try:
                await asyncio.wait_for(done.wait(), rng.uniform(*sc.grader_think_s))
            except TimeoutError:
                pass


async def _grade_one(me: User, ex: Exercise) -> None:
    _, made = await me.send("lecture", "POST /api/v1/exercises", "/api/v1/exercises", json=ex.key)
    if made is None:
        return
    if ex.kind in VALUE_KINDS:
        given = dict(made["given"])
        op = given.pop("op")
        _, result = await me.send("lecture", "POST /api/v1/ops/{op}", f"/api/v1/ops/{op}", json=given)
        if result is not None:
            await me.send("lecture", "POST /api/v1/exercises/grade", "/api/v1/exercises/grade",
                          check=lambda b: b.get("correct") is True, json={**ex.key, "answer": result["output"]})
    elif ex.kind in SHAPE_KINDS:
        await me.send("lecture", "POST /api/v1/exercises/grade", "/api/v1/exercises/grade",
                      check=lambda b: 0 <= b.get("score", -1) <= 1, json={**ex.key, "answer": [1, 1, 1, 1]})


async def lag_monitor(rec: Recorder, done: asyncio.Event, every_s: float = 0.05) -> None:
    """How late the client's own event loop wakes up: latency that belongs to the client, not the server."""
    while not done.is_set():
        t = time.monotonic()
        await asyncio.sleep(every_s)
        rec.lag_s.append(time.monotonic() - t - every_s)


async def lecture(crowd: Crowd, sc: Scenario) -> None:
    done = asyncio.Event()
    t0 = time.monotonic() + 0.5
    rngs = [random.Random(i) for i in range(sc.students)]
    monitor = asyncio.create_task(lag_monitor(crowd.rec, done))
    graders = [asyncio.create_task(grader(crowd, sc, g, done)) for g in range(sc.graders)]
    await asyncio.gather(*(student(crowd, sc, i, t0, rngs[i]) for i in range(sc.students)))
    done.set()
    await asyncio.gather(monitor, *graders)


async def _one_of_many(crowd: Crowd, image_id: str, kernel: str) -> None:
    async with crowd.user() as someone:
        await someone.pipeline("overload", image_id, kernel, parse=False)


async def overload(crowd: Crowd, sc: Scenario, sampler: RssSampler) -> dict:
    async with crowd.user() as me:
        image_id = await me.upload("overload-setup", OVERLOAD_IMAGE)
        if image_id is None:
            return {"error": "the overload image could not be uploaded"}
        before = sampler.last()
        wave_peaks = []
        for wave in range(sc.overload_waves):
            t_start = time.monotonic()
            kernel = KERNELS[wave % len(KERNELS)]
            await asyncio.gather(*(_one_of_many(crowd, image_id, kernel) for _ in range(sc.overload_requests)))
            await asyncio.sleep(0.2)  # a last sample inside the wave
            wave_peaks.append(sampler.peak_between(t_start, time.monotonic()))
        t = time.perf_counter()
        recovered = await me.pipeline("recovery", image_id, KERNELS[0])
    return {"rss_before": before, "rss_peak": max(wave_peaks), "wave_peaks": wave_peaks,
            "recovered": recovered, "recovery_s": time.perf_counter() - t}


async def _drive(url: str, sc: Scenario, sampler: RssSampler, images: dict[int, Image]) -> tuple[Recorder, dict, float]:
    crowd = Crowd(url, Recorder(), images)
    rec = crowd.rec
    t, cpu = time.monotonic(), (tree_cpu_seconds(sampler.root), time.process_time())
    await asyncio.wait_for(lecture(crowd, sc), sc.deadline_s)
    lecture_s = time.monotonic() - t
    rec.cpu = {"server": tree_cpu_seconds(sampler.root) - cpu[0], "client": time.process_time() - cpu[1],
               "available": lecture_s * (os.cpu_count() or 1)}
    async with httpx.AsyncClient(base_url=url, timeout=REQUEST_TIMEOUT_S) as client:
        rec.store = (await client.get("/api/v1/health")).json().get("images", {})
    lecture_peak = sampler.peak
    over = await asyncio.wait_for(overload(crowd, sc, sampler), sc.overload_waves * 2 * REQUEST_TIMEOUT_S + 60)
    return rec, {**over, "lecture_peak": lecture_peak}, lecture_s


@dataclass(frozen=True)
class Report:
    scenario: Scenario
    workers: int
    env: dict[str, str]
    rec: Recorder
    overload: dict
    lecture_s: float
    peak_rss: int


def measure(sc: Scenario, workers: int = 1, env: dict[str, str] | None = None) -> Report:
    env = dict(env or {})
    shown = {k: v for k, v in os.environ.items() if k.startswith("CONVSCOPE_")} | env  # what the server will see
    images = {seed: student_image(seed) for seed in [*range(sc.students), OVERLOAD_IMAGE]}
    with serve_process(workers=workers, env=env) as served, RssSampler(served.proc.pid) as sampler:
        rec, over, lecture_s = asyncio.run(_drive(served.url, sc, sampler, images))
    return Report(sc, workers, shown, rec, over, lecture_s, sampler.peak)


# ------------------------------------------------------------------ the report


def _stats(samples: Sequence[Sample]) -> dict:
    lat = sorted(s.seconds for s in samples)
    errors = sum(s.status != 200 for s in samples)
    return {"n": len(lat), "p50": percentile(lat, 0.50), "p95": percentile(lat, 0.95), "p99": percentile(lat, 0.99),
            "max": lat[-1] if lat else float("nan"), "errors": errors}


def _ms(s: float) -> str:
    return f"{s * 1e3:.0f} ms" if s < 1 else f"{s:.2f} s"


def _by_status(samples: Sequence[Sample]) -> str:
    counts = Counter(str(s.status) for s in samples if s.status != 200)
    return ", ".join(f"{k} ×{v}" for k, v in sorted(counts.items())) or "none"


def _mark(ok: bool) -> str:
    return "✔" if ok else "✘"


def text(rep: Report) -> str:
    sc, lec = rep.scenario, rep.rec.of("lecture")
    lines = [f"# load · {sc.students} students, {sc.graders} autograders · {datetime.date.today()} · {machine()}",
             f"server: python -m convscope --workers {rep.workers}"
             + (" with " + " ".join(f"{k}={v}" for k, v in rep.env.items()) if rep.env else " (default settings)"),
             f"lecture: {len(lec)} requests in {rep.lecture_s:.1f} s ({len(lec) / max(rep.lecture_s, 1e-9):.1f} req/s), "
             f"arrivals over {sc.arrival_s:g} s, {sc.bursts} \"press run now\" bursts", "",
             "| endpoint | requests | p50 | p95 | p99 | max | errors |", "|---|---|---|---|---|---|---|"]
    for endpoint in sorted({s.endpoint for s in lec}):
        st = _stats([s for s in lec if s.endpoint == endpoint])
        lines.append(f"| {endpoint} | {st['n']} | {_ms(st['p50'])} | {_ms(st['p95'])} | {_ms(st['p99'])} | "
                     f"{_ms(st['max'])} | {st['errors']} |")
    st = _stats(lec)
    lines.append(f"| **all** | {st['n']} | {_ms(st['p50'])} | {_ms(st['p95'])} | **{_ms(st['p99'])}** | "
                 f"{_ms(st['max'])} | **{st['errors']}** |")
    bad_envelopes = sum(not s.envelope for s in rep.rec.samples if s.status != 200)
    lag = sorted(rep.rec.lag_s)
    lines += ["", f"errors by status: {_by_status(lec)}"
              + (f" ({bad_envelopes} without the envelope)" if bad_envelopes else ""),
              f"goal  errors = 0          measured {st['errors']:<8} {_mark(st['errors'] == 0)}",
              f"goal  p99 ≤ {GOAL_P99_S:g} s          measured {_ms(st['p99']):<8} {_mark(st['p99'] <= GOAL_P99_S)}",
              f"goal  peak RSS ≤ {GOAL_RSS / GIB:g} GiB   measured {rep.peak_rss / GIB:.2f} GiB "
              f"{_mark(rep.peak_rss <= GOAL_RSS)}  (sum over the server's processes, sampled every 0.1 s)",
              f"client event-loop lag p50 {_ms(percentile(lag, 0.5))}, p99 {_ms(percentile(lag, 0.99))} "
              "(latency the client itself adds)",
              f"CPU during the lecture: server {rep.rec.cpu.get('server', 0):.0f} s, client "
              f"{rep.rec.cpu.get('client', 0):.0f} s, of {rep.rec.cpu.get('available', 0):.0f} core-seconds",
              f"image store after the lecture: {rep.rec.store.get('images', '?')} images, "
              f"{rep.rec.store.get('bytes', 0) / GIB:.2f} of {rep.rec.store.get('capacity_bytes', 0) / GIB:.2f} GiB, "
              f"{rep.rec.store.get('evictions', '?')} evictions"]
    lines += ["", *overload_text(rep)]
    return "\n".join(lines)


def overload_text(rep: Report) -> list[str]:
    sc, over, ov = rep.scenario, rep.overload, rep.rec.of("overload")
    if "error" in over:
        return [f"overload: not run ({over['error']})"]
    shed = sum(s.status == 503 for s in ov)
    others = [s for s in ov if s.status not in (200, 503)]
    served = [s for s in ov if s.status == 200]
    answered_503 = sorted(s.seconds for s in ov if s.status == 503)
    growth = over["rss_peak"] / max(1, over["lecture_peak"])
    return [f"overload: {sc.overload_waves} × {sc.overload_requests} simultaneous pipelines: "
            f"{shed / max(1, len(ov)):.0%} shed with 503 (p50 answer {_ms(percentile(answered_503, 0.5))}), "
            f"{len(served)} served (p99 {_ms(percentile(sorted(s.seconds for s in served), 0.99))}), "
            f"other errors: {_by_status(others)}",
            f"          503s in the envelope with Retry-After: "
            f"{sum(s.envelope for s in ov if s.status == 503)} of {shed}",
            f"          RSS before {over['rss_before'] / GIB:.2f} GiB, peak in each wave "
            f"{' / '.join(f'{b / GIB:.2f}' for b in over['wave_peaks'])} GiB "
            f"({growth:.2f}× the lecture's peak {over['lecture_peak'] / GIB:.2f} GiB)",
            f"          right after: {over['recovered']} in {_ms(over['recovery_s'])}"]


def rows(rep: Report) -> list[Row]:
    lec = rep.rec.of("lecture")
    st = _stats(lec)
    pipe = _stats([s for s in lec if s.endpoint == "POST /api/v1/pipeline"])
    ov = rep.rec.of("overload")
    shed = sum(s.status == 503 for s in ov) / max(1, len(ov))
    growth = rep.overload.get("rss_peak", 0) / max(1, rep.overload.get("lecture_peak", 1))
    who = f"{rep.scenario.students} students"
    return [
        Row("load", f"lecture ({who}), all requests p50 / p95 / p99",
            f"{_ms(st['p50'])} / {_ms(st['p95'])} / {_ms(st['p99'])}",
            f"p99 {st['p99'] / GOAL_P99_S:.2f} of goal (≤ {GOAL_P99_S:g} s)"),
        Row("load", "lecture pipeline p50 / p99", f"{_ms(pipe['p50'])} / {_ms(pipe['p99'])}",
            f"{pipe['p99'] / GOAL_P99_S:.2f} of goal"),
        Row("load", "lecture errors", f"{st['errors']} of {st['n']} ({_by_status(lec)})", "goal 0"),
        Row("load", "server peak RSS (all processes)", f"{rep.peak_rss / GIB:.2f} GiB",
            f"{rep.peak_rss / GOAL_RSS:.2f} of goal (≤ {GOAL_RSS / GIB:g} GiB)"),
        Row("load", f"overload ({rep.scenario.overload_waves}×{rep.scenario.overload_requests} at once), 503 share",
            f"{shed:.0%}", f"peak RSS {growth:.2f}× the lecture's; then {rep.overload.get('recovered')}"),
    ]


def run(quick: bool = False, workers: int = 1, env: dict[str, str] | None = None) -> list[Row]:
    rep = measure(QUICK if quick else FULL, workers, env)
    print(text(rep))
    return rows(rep)


def _env_pair(text_: str) -> tuple[str, str]:
    key, sep, value = text_.partition("=")
    if not sep or not key.startswith("CONVSCOPE_"):
        raise argparse.ArgumentTypeError(f"expected CONVSCOPE_NAME=VALUE, got {text_!r}")
    return key, value


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="30 students, one burst, one overload wave")
    parser.add_argument("--students", type=int, help="override the scenario's number of students")
    parser.add_argument("--workers", type=int, default=1, help="server worker processes")
    parser.add_argument("--transport", choices=("stream", "json"), default="stream",
                        help="how the students' pipelines answer: stream (as the lab page asks) or json")
    parser.add_argument("--env", type=_env_pair, action="append", default=[], metavar="CONVSCOPE_X=V",
                        help="a server setting for this run (repeatable)")
    args = parser.parse_args(argv)
    scenario_data.TRANSPORT = args.transport
    sc = QUICK if args.quick else FULL
    if args.students:
        sc = Scenario(**{**sc.__dict__, "students": args.students})
    print(text(measure(sc, args.workers, dict(args.env))))


if __name__ == "__main__":
    main()
