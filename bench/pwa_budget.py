"""PWA budgets: bytes of the capture path, a repeat load from the service worker, a first load on Slow 3G.

1. Capture path size: the JavaScript and CSS a phone needs to open 登记纠纷 (the entry chunk, its
   static imports, the capture route's chunk and its imports, and their CSS), from
   pwa/dist/.vite/manifest.json, each gzipped at level 9. Budget: 250 KB. The map picker (Leaflet) is
   listed separately: it loads only on its own route.
2. Repeat load: headless Chromium (the system's) signs in once, so the service worker precaches the
   app, then opens /capture again and again; milliseconds from navigation start to the capture form
   on screen (p50 / p95), with the network up and with it off. Budget: under 1 s.
3. First load on emulated Slow 3G (DevTools preset: 2 s RTT, 400 kbit/s down and up, through the
   DevTools protocol's Network.emulateNetworkConditions): a fresh browser opens / and the sign-in
   form shows, styled (the one written into index.html, or the app's own); milliseconds and bytes
   transferred; then the milliseconds until the app's form is up (signing in possible).

A real `fengqiao serve` (SQLite in a temp directory, demo data) on 127.0.0.1. Prints a table; not a test.

    cd pwa && npm run build && cd .. && .venv/bin/python bench/pwa_budget.py [--runs 7]
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from photos import start_server  # noqa: E402  (same server start-up as the photo bench)

DIST = REPO / "pwa" / "dist"
BUDGET_KB = 250
CAPTURE_ROUTE = "src/cases/CaptureView.vue"
MAP_ROUTE = "src/cases/MapPickView.vue"
SLOW_3G = {"offline": False, "latency": 2000, "downloadThroughput": 50_000, "uploadThroughput": 50_000}


def chunk_files(manifest: dict, key: str, seen: set[str] | None = None) -> set[str]:
    """The files a manifest entry needs before it runs: its file, its CSS and its static imports."""
    seen = set() if seen is None else seen
    entry = manifest[key]
    files = {entry["file"], *entry.get("css", [])}
    for imported in entry.get("imports", []):
        if imported not in seen:
            seen.add(imported)
            files |= chunk_files(manifest, imported, seen)
    return files


def gz_kb(files: set[str]) -> tuple[float, float]:
    raw = sum((DIST / f).stat().st_size for f in files)
    packed = sum(len(gzip.compress((DIST / f).read_bytes(), 9)) for f in files)
    return raw / 1024, packed / 1024


def sizes() -> dict[str, tuple[float, float, int]]:
    manifest = json.loads((DIST / ".vite" / "manifest.json").read_text())
    entry = next(k for k, v in manifest.items() if v.get("isEntry"))
    shell = chunk_files(manifest, entry)
    capture = shell | chunk_files(manifest, CAPTURE_ROUTE)
    map_only = chunk_files(manifest, MAP_ROUTE) - capture
    js_css = [f for f in (DIST / "assets").iterdir() if f.suffix in (".js", ".css")]
    everything = {str(f.relative_to(DIST)) for f in js_css}
    return {
        "app shell (entry)": (*gz_kb(shell), len(shell)),
        "capture path (shell + 登记纠纷)": (*gz_kb(capture), len(capture)),
        "map picker only (Leaflet)": (*gz_kb(map_only), len(map_only)),
        "whole app, all routes": (*gz_kb(everything), len(everything)),
    }


async def timings(base: str, runs: int) -> dict[str, list[float]]:
    from playwright.async_api import async_playwright

    chromium = os.environ.get("FENGQIAO_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
    phone = {"width": 360, "height": 740}
    keys = ("repeat", "repeat_offline", "slow3g", "slow3g_app", "slow3g_bytes")
    out: dict[str, list[float]] = {key: [] for key in keys}
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium, args=args, headless=True)

        # --- repeat loads, served by the service worker --------------------------------------------
        context = await browser.new_context(
            viewport=phone,
            is_mobile=True,
            has_touch=True,
            locale="zh-CN",
            base_url=base,
            geolocation={"longitude": 99.615, "latitude": 24.8256, "accuracy": 15},
            permissions=["geolocation"],
        )
        page = await context.new_page()
        await page.goto("/")
        await page.get_by_test_id("login-username").fill("mediator1")
        await page.get_by_test_id("login-password").fill("demo-2026")
        await page.get_by_test_id("login-submit").click()
        await page.get_by_test_id("me-name").wait_for()
        await page.wait_for_function("() => !!navigator.serviceWorker.controller", timeout=30_000)
        await page.wait_for_function(
            "() => document.querySelector('[data-testid=last-sync]')?.textContent !== '从未'", timeout=30_000
        )
        for key, offline in (("repeat", False), ("repeat_offline", True)):
            await context.set_offline(offline)
            for _ in range(runs):
                started = time.perf_counter()
                await page.goto("/capture", wait_until="commit")
                await page.get_by_test_id("cap-title").wait_for()
                out[key].append((time.perf_counter() - started) * 1000)
        await context.close()

        # --- first load on Slow 3G ---------------------------------------------------------------
        for _ in range(max(1, runs // 3)):
            context = await browser.new_context(viewport=phone, is_mobile=True, locale="zh-CN", base_url=base)
            page = await context.new_page()
            cdp = await context.new_cdp_session(page)
            await cdp.send("Network.enable")
            await cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
            await cdp.send("Network.emulateNetworkConditions", SLOW_3G)
            received: list[float] = []
            cdp.on("Network.loadingFinished", lambda e, got=received: got.append(e["encodedDataLength"]))
            started = time.perf_counter()
            await page.goto("/", wait_until="commit", timeout=120_000)
            form = page.locator('[data-testid="boot-username"], [data-testid="login-username"]')
            await form.first.wait_for(timeout=120_000)
            # In the DOM is not on screen: wait for the stylesheet (render-blocking) to style it too.
            await page.wait_for_function(
                """() => [...document.querySelectorAll('#boot-username, #login-username')]
                    .some((el) => getComputedStyle(el).minHeight === '52px')""",
                timeout=120_000,
                polling=50,
            )
            out["slow3g"].append((time.perf_counter() - started) * 1000)
            await page.get_by_test_id("login-username").wait_for(timeout=120_000)
            out["slow3g_app"].append((time.perf_counter() - started) * 1000)
            out["slow3g_bytes"].append(sum(received) / 1024)
            await context.close()
        await browser.close()
    return out


def p95(xs: list[float]) -> float:
    return sorted(xs)[max(0, int(round(0.95 * len(xs))) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    opts = parser.parse_args()
    if not (DIST / ".vite" / "manifest.json").exists():
        sys.exit("pwa/dist/.vite/manifest.json is missing: run `make pwa` (cd pwa && npm run build) first")

    print(f"{'JS + CSS':<34} {'files':>5} {'raw KB':>8} {'gzip KB':>8}")
    for name, (raw, packed, n) in sizes().items():
        flag = ""
        if name.startswith("capture"):
            flag = "  OK" if packed <= BUDGET_KB else f"  OVER BUDGET ({BUDGET_KB} KB)"
        print(f"{name:<34} {n:>5} {raw:>8.1f} {packed:>8.1f}{flag}")

    with tempfile.TemporaryDirectory(prefix="fengqiao-pwa-bench-") as tmp:
        env = {
            **os.environ,
            "FENGQIAO_DATA_DIR": tmp,
            "FENGQIAO_DATABASE_URL": f"sqlite:///{tmp}/bench.sqlite3",
            "FENGQIAO_LOG_LEVEL": "WARNING",
        }
        process, base = start_server(env)
        try:
            t = asyncio.run(timings(base, opts.runs))
        finally:
            process.terminate()
            process.wait(timeout=10)

    print()
    rows = [
        ("repeat load of /capture from the SW, online", t["repeat"], ""),
        ("repeat load of /capture from the SW, offline", t["repeat_offline"], ""),
        (
            "first load of / on Slow 3G (sign-in form)",
            t["slow3g"],
            f"   ({statistics.median(t['slow3g_bytes']):.0f} KB transferred)",
        ),
        ("… the app's own sign-in form (can sign in)", t["slow3g_app"], ""),
    ]
    print(f"{'load':<46} {'p50 ms':>8} {'p95 ms':>8}")
    for name, xs, note in rows:
        print(f"{name:<46} {statistics.median(xs):>8.0f} {p95(xs):>8.0f}{note}")


if __name__ == "__main__":
    main()
