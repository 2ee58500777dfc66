"""Supervisors' map: first render and a filter change with 50,000 demo cases, in headless Chromium.

A fresh data directory (SQLite): `fengqiao migrate`, `fengqiao demo`, `fengqiao demo --cases N`, then
`fengqiao serve` on 127.0.0.1. The county account signs in once (the session is kept in IndexedDB),
then:

1. First render: /map is loaded again and again; milliseconds from navigation start to the moment
   the map has drawn its boundaries, choropleth and case markers (`window.__fqMapReady`, set by
   pwa/src/map/MapView.vue after the first full render). Target: 2 s.
2. Filter change: a filter chip is clicked (state, level, category, overdue: applied in the browser
   to the rows loaded) and the time to the markers redrawn and painted is measured (next animation
   frame after the render). Target: 300 ms. A date-range change goes to the server and is shown
   separately.
3. The API alone: GET /api/map/cases over the whole county (rows, bytes, ms) and /api/map/cells.

    cd pwa && npm run build && cd .. && .venv/bin/python bench/map_render.py [--cases 50000] [--runs 5]

Prints a table; not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from photos import start_server  # noqa: E402  (migrate + demo again, both idempotent; then serve)

CHROMIUM = os.environ.get("FENGQIAO_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
VIEWPORT = {"width": 1280, "height": 800}


def cli(env: dict[str, str], *args: str) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "backend.cli", *args], env=env, cwd=REPO, check=True, stdout=subprocess.DEVNULL
    )
    return time.perf_counter() - started


def fmt(values: list[float]) -> str:
    if not values:
        return "—"
    values = sorted(values)
    p95 = values[min(len(values) - 1, round(0.95 * (len(values) - 1)))]
    return f"{statistics.median(values):.0f} / {p95:.0f}"


async def api_figures(base: str) -> dict[str, str]:
    async with httpx.AsyncClient(base_url=base, timeout=120) as client:
        r = await client.post(
            "/api/auth/login", json={"username": "county", "password": "demo-2026", "device_name": "bench"}
        )
        headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
        config = (await client.get("/api/map/config", headers=headers)).json()
        bbox = ",".join(str(x) for x in config["bounds"])
        out: dict[str, str] = {}
        times = []
        for _ in range(3):
            started = time.perf_counter()
            r = await client.get(
                "/api/map/cases",
                params={"bbox": bbox, "limit": 50000},
                headers={**headers, "Accept-Encoding": "gzip"},
            )
            times.append((time.perf_counter() - started) * 1000)
        body = r.json()
        out["GET /api/map/cases (county, limit 50000)"] = (
            f"{fmt(times)} ms; {len(body['rows'])} rows of {body['total']}, truncated={body['truncated']}, "
            f"{len(r.content) / 1e6:.1f} MB JSON"
        )
        for level in ("township", "village", "grid"):
            times = []
            for _ in range(3):
                started = time.perf_counter()
                r = await client.get(
                    "/api/map/cells", params={"level": level, "metric": "open"}, headers=headers
                )
                times.append((time.perf_counter() - started) * 1000)
            out[f"GET /api/map/cells?level={level}"] = f"{fmt(times)} ms; {len(r.json()['cells'])} cells"
        return out


async def browser_figures(base: str, runs: int, with_sync: bool) -> dict[str, list[float]]:
    from playwright.async_api import async_playwright

    figures: dict[str, list[float]] = {
        "first render": [],
        "filter (in browser)": [],
        "date range (server)": [],
        "cases request starts": [],
        "cases request ends": [],
        "cases fetch + decode": [],
        "cases index + draw": [],
    }
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        context = await browser.new_context(
            viewport=VIEWPORT, locale="zh-CN", timezone_id="Asia/Shanghai", base_url=base
        )
        page = await context.new_page()
        if not with_sync:
            # The app's background sync pulls the county's change log (for a county account on a new
            # browser: every case, 200 a page) and competes with the map for the server; a browser whose
            # sync has caught up does not. Measured both ways (--with-sync).
            await page.route("**/api/sync/**", lambda route: route.abort())
        await page.goto("/")
        await page.get_by_test_id("login-username").fill("county")
        await page.get_by_test_id("login-password").fill("demo-2026")
        await page.get_by_test_id("login-submit").click()
        await page.get_by_test_id("me-name").wait_for()

        for i in range(runs + 1):
            await page.goto("/map")
            await page.wait_for_function("() => window.__fqMapReady > 0", timeout=120_000, polling=20)
            ms = await page.evaluate("() => window.__fqMapReady")
            if i:  # the first load fills the HTTP cache and the service worker: not counted
                figures["first render"].append(ms)
            if i:
                request = await page.evaluate(
                    """() => performance.getEntriesByType('resource')
                        .filter((e) => e.name.includes('/api/map/cases'))
                        .map((e) => [e.startTime, e.responseEnd])[0]"""
                )
                if request:
                    figures["cases request starts"].append(request[0])
                    figures["cases request ends"].append(request[1])
                load = await page.evaluate("() => window.__fqMap.probe.loads[0]")
                figures["cases fetch + decode"].append(load["fetchMs"])
                figures["cases index + draw"].append(load["drawMs"])
        shown = await page.get_by_test_id("map-count").get_attribute("data-count")
        figures["cases on the map"] = [float(shown or 0)]

        chips = ["filter-level-big", "filter-state-mediating", "filter-category-neighbour", "filter-overdue"]
        for _ in range(runs):
            for chip in chips:
                for _toggle in (1, 2):  # on, then off again
                    ms = await page.evaluate(
                        """async (testid) => {
                            const probe = window.__fqMap.probe
                            const before = probe.renders
                            const t0 = performance.now()
                            document.querySelector(`[data-testid=${testid}]`).click()
                            while (probe.renders === before) await new Promise(requestAnimationFrame)
                            await new Promise(requestAnimationFrame)
                            return performance.now() - t0
                        }""",
                        chip,
                    )
                    figures["filter (in browser)"].append(ms)
        for i in range(runs):
            day = f"2026-0{1 + i % 9}-01"
            ms = await page.evaluate(
                """async (day) => {
                    const probe = window.__fqMap.probe
                    const before = probe.renders
                    const input = document.querySelector('[data-testid=filter-from]')
                    const t0 = performance.now()
                    input.value = day
                    input.dispatchEvent(new Event('change'))
                    while (probe.renders === before) await new Promise(requestAnimationFrame)
                    await new Promise(requestAnimationFrame)
                    return performance.now() - t0
                }""",
                day,
            )
            figures["date range (server)"].append(ms)
        await page.screenshot(path=str(REPO / "test-artifacts" / "bench-map-county.png"))
        await browser.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--with-sync", action="store_true", help="let the app's first sync pull run meanwhile (a new browser)"
    )
    parser.add_argument("--data-dir", help="reuse a data directory made by an earlier run (skips the demo)")
    args = parser.parse_args()
    if not (REPO / "pwa" / "dist" / "index.html").exists():
        sys.exit("pwa/dist is missing: cd pwa && npm run build")
    (REPO / "test-artifacts").mkdir(exist_ok=True)

    data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="fq-map-bench-"))
    env = {**os.environ, "FENGQIAO_DATA_DIR": str(data_dir)}
    env.pop("FENGQIAO_DATABASE_URL", None)
    if not (data_dir / "fengqiao.sqlite3").exists():
        cli(env, "migrate")
        cli(env, "demo")
        seconds = cli(env, "demo", "--cases", str(args.cases))
        print(f"demo history: {args.cases} cases in {seconds:.0f} s ({data_dir})")
    process, base = start_server(env)
    try:
        for name, value in asyncio.run(api_figures(base)).items():
            print(f"{name}: {value}")
        figures = asyncio.run(browser_figures(base, args.runs, args.with_sync))
    finally:
        process.terminate()
        process.wait(timeout=10)
    cases = figures["cases on the map"][0]
    rows = [
        (f"first render (navigation → map drawn), county, {cases:.0f} cases", "first render", "2000"),
        ("filter change in the browser (click → markers painted)", "filter (in browser)", "300"),
        ("… of which GET /api/map/cases sent at", "cases request starts", "—"),
        ("… and answered by", "cases request ends", "—"),
        ("… cases: request → rows decoded (server, transfer, JSON.parse)", "cases fetch + decode", "—"),
        ("… cases: rows → clusters indexed and drawn", "cases index + draw", "—"),
        ("date range change (server round trip → painted)", "date range (server)", "—"),
    ]
    print()
    print("| measure | p50 / p95 ms | target |")
    print("|---|---|---|")
    for label, key, target in rows:
        print(f"| {label} | {fmt(figures[key])} | {target} |")
    if not args.data_dir:
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
