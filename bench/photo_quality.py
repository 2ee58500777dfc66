"""Which JPEG quality and long edge the PWA should shrink photos to: bytes against SSIM.

The phone shrinks every photo before storing and sending it (pwa/src/core/image.ts: a canvas
drawImage with imageSmoothingQuality 'high', then toBlob('image/jpeg', q)). This script runs that
same code in the system's Chromium (so the encoder is the browser's own libjpeg-turbo through Skia,
not a proxy) on camera-sized test photos, for several long edges and qualities, and scores each
result with SSIM (Wang et al. 2004: 11-tap Gaussian window, σ 1.5, on luma; numpy, no extra
dependency):

- "as shown": the upload scaled to 1280 px (medium, the largest size the app ever shows from the
  server) against the original scaled to 1280 px, both with Lanczos: what the phone's choice costs
  the person looking at the photo, resolution included;
- "upload": the JPEG against the browser's own lossless (PNG) resize at the same size: the
  compression loss alone.

Test photos (4000×3000, what a phone camera writes): a street scene (1/f texture like foliage and
walls, edges, sensor grain), a signed agreement on paper (Chinese text in WenQuanYi if installed,
a red seal, shading), bench/photos.py's camera-like picture (gradients, shapes, heavy noise: the
hardest to compress), and any real JPEG given with --photo.

Then the bytes up for one whole case as bench/sync.py counts them (a real `fengqiao serve` on
SQLite: the case.create push, the two photo uploads, the resume HEADs, two follow-up pushes), with
the street scene and the agreement as its two photos, at today's setting and at the one chosen.

    .venv/bin/python bench/photo_quality.py [--photo some.jpg ...] [--no-case]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import os
import shutil
import statistics
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))

from photos import camera_like  # noqa: E402

EDGES = [1280, 1600]
QUALITIES = [0.5, 0.6, 0.65, 0.7, 0.75, 0.8, 0.82, 0.85, 0.9]
SHOWN = 1280
SIZE = (4000, 3000)
TARGET_SSIM = 0.95
FONT = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")

# --- SSIM ---------------------------------------------------------------------------------------


def _blur(a: np.ndarray, sigma: float = 1.5, radius: int = 5) -> np.ndarray:
    """Separable Gaussian filter, 'valid' region only."""
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    k = np.exp(-(x * x) / (2 * sigma * sigma))
    k /= k.sum()
    h, w = a.shape
    rows = sum(c * a[:, i : i + w - 2 * radius] for i, c in enumerate(k))
    return sum(c * rows[i : i + h - 2 * radius, :] for i, c in enumerate(k))  # type: ignore[return-value]


def _luma(im: Image.Image) -> np.ndarray:
    a = np.asarray(im.convert("RGB"), dtype=np.float64)
    return 0.299 * a[..., 0] + 0.587 * a[..., 1] + 0.114 * a[..., 2]


def ssim(a: Image.Image, b: Image.Image) -> float:
    if a.size != b.size:
        raise ValueError(f"sizes differ: {a.size} {b.size}")
    x, y = _luma(a), _luma(b)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mx, my = _blur(x), _blur(y)
    sxx, syy, sxy = _blur(x * x) - mx * mx, _blur(y * y) - my * my, _blur(x * y) - mx * my
    index = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))
    return float(index.mean())


# --- test photos --------------------------------------------------------------------------------


def _pink(shape: tuple[int, int], rng: np.random.Generator, alpha: float = 1.0) -> np.ndarray:
    """Noise with a 1/f^alpha amplitude spectrum (natural scenes are close to 1/f), scaled to 0..1."""
    h, w = shape
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    f = np.sqrt(fx * fx + fy * fy)
    f[0, 0] = 1.0
    spectrum = (rng.normal(size=f.shape) + 1j * rng.normal(size=f.shape)) / f**alpha
    out = np.fft.irfft2(spectrum, s=(h, w))
    return (out - out.min()) / (out.max() - out.min())


def _grain(im: Image.Image, rng: np.random.Generator, sigma: float) -> Image.Image:
    a = np.asarray(im, dtype=np.float32)
    a = a + rng.normal(0, sigma, a.shape).astype(np.float32)
    return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))


def street(size: tuple[int, int] = SIZE, seed: int = 1) -> Image.Image:
    """Walls, ground and foliage with edges between them, the optics' softness and sensor grain."""
    rng = np.random.default_rng(seed)
    w, h = size
    half = (h // 2, w // 2)
    texture = _pink(half, rng, 1.0)
    detail = _pink(half, rng, 0.6)
    rgb = np.stack(
        [0.55 * texture + 0.25 * detail, 0.5 * texture + 0.4 * detail, 0.35 * texture + 0.2 * detail], axis=-1
    )
    im = Image.fromarray((np.clip(rgb, 0, 1) * 255).astype(np.uint8)).resize(size, Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(im)
    for _ in range(14):  # buildings, doors, a car: hard edges
        x, y = int(rng.integers(0, w - 400)), int(rng.integers(0, h - 400))
        colour = tuple(int(c) for c in rng.integers(40, 230, 3))
        draw.rectangle((x, y, x + int(rng.integers(120, 900)), y + int(rng.integers(120, 900))), fill=colour)
    draw.line((0, h * 0.7, w, h * 0.62), fill=(90, 90, 90), width=30)
    im = im.filter(ImageFilter.GaussianBlur(1.2))
    return _grain(im, rng, 4.0)


def agreement(size: tuple[int, int] = SIZE, seed: int = 2) -> Image.Image:
    """A signed agreement photographed on a desk: text, a red seal, uneven light."""
    rng = np.random.default_rng(seed)
    w, h = size
    light = np.linspace(0.82, 1.0, w)[None, :] * np.linspace(0.9, 1.0, h)[:, None]
    paper = np.stack([light * 245, light * 240, light * 228], axis=-1)
    im = Image.fromarray(paper.astype(np.uint8))
    draw = ImageDraw.Draw(im)
    font = ImageFont.truetype(str(FONT), 64) if FONT.exists() else ImageFont.load_default(64)
    title = ImageFont.truetype(str(FONT), 110) if FONT.exists() else ImageFont.load_default(110)
    draw.text((w * 0.33, 160), "人民调解协议书", fill=(20, 20, 20), font=title)
    lines = [
        "当事人：张某某，男，汉族，住昌宁县田园镇某村。",
        "当事人：李某某，女，汉族，住昌宁县田园镇某村。",
        "纠纷主要事实：双方因宅基地边界及排水沟发生争议，",
        "经调解员现场查看、听取双方陈述，双方自愿达成如下协议：",
        "一、排水沟按原走向保留，由双方共同清理，费用各半。",
        "二、边界以现有石桩为准，任何一方不得擅自移动。",
        "三、本协议自双方签字之日起生效，一式三份。",
        "履行期限：2026年12月31日前。调解员：王某某",
    ]
    for i, line in enumerate(lines * 3):
        draw.text((260, 420 + i * 104), line, fill=(25, 25, 30), font=font)
    draw.ellipse((w - 1100, h - 900, w - 500, h - 300), outline=(200, 30, 30), width=22)
    draw.text((w - 1000, h - 650), "调解委员会", fill=(200, 30, 30), font=font)
    for k in range(3):  # signatures
        points = [(600 + 1100 * k + x * 9, h - 500 + 60 * np.sin(x / 5.0 + k)) for x in range(60)]
        draw.line(points, fill=(10, 10, 60), width=9)
    im = im.rotate(1.5, resample=Image.Resampling.BICUBIC, fillcolor=(70, 60, 50))
    im = im.filter(ImageFilter.GaussianBlur(1.0))
    return _grain(im, rng, 3.0)


def photos(extra: list[Path]) -> dict[str, Image.Image]:
    out = {
        "street scene": street(),
        "agreement on paper": agreement(),
        "camera-like (bench/photos.py)": Image.open(io.BytesIO(camera_like(SIZE))).convert("RGB"),
    }
    for path in extra:
        out[path.name] = Image.open(path).convert("RGB")
    return out


# --- the browser's encoder ----------------------------------------------------------------------

PAGE = """<!doctype html><meta charset="utf-8"><script>
// The same steps as pwa/src/core/image.ts (decode, fit, drawImage with 'high' smoothing, toBlob).
function fit(w, h, edge) {
  const s = Math.min(1, edge / Math.max(w, h))
  return [Math.max(1, Math.round(w * s)), Math.max(1, Math.round(h * s))]
}
function blobB64(b) {
  return new Promise((ok) => {
    const r = new FileReader()
    r.onload = () => ok(r.result.split(',')[1])
    r.readAsDataURL(b)
  })
}
async function shrink(url, edges, qualities) {
  const src = await createImageBitmap(await (await fetch(url)).blob(), { imageOrientation: 'from-image' })
  const out = []
  for (const edge of edges) {
    const [w, h] = fit(src.width, src.height, edge)
    const canvas = document.createElement('canvas')
    canvas.width = w; canvas.height = h
    const ctx = canvas.getContext('2d')
    ctx.imageSmoothingEnabled = true; ctx.imageSmoothingQuality = 'high'
    ctx.fillStyle = '#fff'; ctx.fillRect(0, 0, w, h); ctx.drawImage(src, 0, 0, w, h)
    const encode = (type, q) => new Promise((ok) => canvas.toBlob(ok, type, q))
    out.push({ edge, q: 0, data: await blobB64(await encode('image/png')) })
    for (const q of qualities) out.push({ edge, q, data: await blobB64(await encode('image/jpeg', q)) })
  }
  return out
}
</script>"""


async def browser_encodes(originals: dict[str, bytes]) -> dict[str, list[dict]]:
    from playwright.async_api import async_playwright

    chromium = os.environ.get("FENGQIAO_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    results: dict[str, list[dict]] = {}
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium, args=["--no-sandbox"], headless=True)
        page = await browser.new_page()
        files = {f"/{i}.png": data for i, data in enumerate(originals.values())}

        async def serve(route):  # type: ignore[no-untyped-def]
            path = "/" + route.request.url.split("/", 3)[3]
            if path in files:
                await route.fulfill(body=files[path], content_type="image/png")
            else:
                await route.fulfill(body=PAGE, content_type="text/html")

        await page.route("http://bench.invalid/**", serve)
        await page.goto("http://bench.invalid/")
        for (name, _), url in zip(originals.items(), files, strict=True):
            results[name] = await page.evaluate("([u, e, q]) => shrink(u, e, q)", [url, EDGES, QUALITIES])
        await browser.close()
    return results


async def case_bytes(photos: list[bytes]) -> list[tuple[str, int]]:
    """Bytes up (HTTP/1.1, no TLS) for one case with these photos, counted as bench/sync.py does."""
    import hashlib
    import tempfile

    import httpx
    import sync

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "FENGQIAO_DATA_DIR": tmp,
            "FENGQIAO_DATABASE_URL": f"sqlite:///{tmp}/bench.sqlite3",
            "FENGQIAO_LOG_LEVEL": "WARNING",
        }
        sync.prepare(env)
        process, base = sync.start_server(env)
        wire = sync.Wire()
        try:
            hooks = {"request": [wire.on_request], "response": [wire.on_response]}
            async with httpx.AsyncClient(base_url=base, timeout=120, event_hooks=hooks) as http:
                phone = await sync.login(http, "leader1")
                hashes = [hashlib.sha256(p).hexdigest() for p in photos]
                body = sync.case_body(999_999, hashes)
                wire.reset()
                await sync.push(http, phone, [sync.op("case.create", body["id"], body)])
                rows.append(("push case.create", wire.reset()[0]))
                for sha, data in zip(hashes, photos, strict=True):
                    (await http.put(f"/api/media/{sha}", content=data, headers=phone)).raise_for_status()
                rows.append(
                    (f"2 photos ({' + '.join(str(len(p) // 1024) for p in photos)} KB)", wire.reset()[0])
                )
                for sha in hashes:
                    await http.head(f"/api/media/{sha}", headers=phone)
                await sync.push(http, phone, [sync.op("case.action", body["id"], {"action": "accept"})])
                edit = {"description": "补充：通道宽约一米五。"}
                await sync.push(http, phone, [sync.op("case.update", body["id"], edit, base_version=2)])
                rows.append(("2 HEADs, 2 follow-up pushes", wire.reset()[0]))
        finally:
            process.terminate()
            process.wait(10)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--photo", type=Path, action="append", default=[], help="a real photo to add")
    parser.add_argument("--no-case", action="store_true", help="skip the whole-case bytes")
    args = parser.parse_args()
    images = photos(args.photo)
    originals = {}
    for name, im in images.items():
        buf = io.BytesIO()
        im.save(buf, "PNG", compress_level=1)
        originals[name] = buf.getvalue()
    encodes = asyncio.run(browser_encodes(originals))

    # rows[(edge, q)] = [(kb, ssim shown, ssim upload) per photo]
    rows: dict[tuple[int, float], list[tuple[float, float, float]]] = {}
    for name, im in images.items():
        shown_size = (SHOWN, round(im.height * SHOWN / im.width))
        reference = im.resize(shown_size, Image.Resampling.LANCZOS)
        lossless: dict[int, Image.Image] = {}
        for item in encodes[name]:
            decoded = Image.open(io.BytesIO(base64.b64decode(item["data"]))).convert("RGB")
            if item["q"] == 0:
                lossless[item["edge"]] = decoded
                continue
            kb = len(base64.b64decode(item["data"])) / 1024
            as_shown = (
                decoded
                if decoded.size == shown_size
                else decoded.resize(shown_size, Image.Resampling.LANCZOS)
            )
            rows.setdefault((item["edge"], item["q"]), []).append(
                (kb, ssim(reference, as_shown), ssim(lossless[item["edge"]], decoded))
            )

    print(f"photos: {', '.join(images)} ({SIZE[0]}×{SIZE[1]} originals); encoder: Chromium canvas.toBlob")
    print(
        f"{'edge':>5} {'quality':>7} {'KB per photo (each)':>34} {'mean KB':>8}"
        f" {'SSIM as shown min/mean':>23} {'SSIM upload min':>16}"
    )
    best = None
    for (edge, q), cells in sorted(rows.items()):
        kbs = [c[0] for c in cells]
        shown = [c[1] for c in cells]
        upload = [c[2] for c in cells]
        mean_kb = statistics.mean(kbs)
        ok = min(shown) >= TARGET_SSIM and min(upload) >= TARGET_SSIM
        if ok and (best is None or mean_kb < best[2]):
            best = (edge, q, mean_kb)
        print(
            f"{edge:>5} {q:>7.2f} {' / '.join(f'{k:.0f}' for k in kbs):>34} {mean_kb:>8.0f}"
            f" {min(shown):>11.4f} / {statistics.mean(shown):.4f} {min(upload):>16.4f}{'  ok' if ok else ''}"
        )
    if best and not args.no_case:
        by_setting = {(i["edge"], i["q"]): i["data"] for i in encodes["street scene"]}
        paper = {(i["edge"], i["q"]): i["data"] for i in encodes["agreement on paper"]}
        for label, key in (("today (1600 px, 0.82)", (1600, 0.82)), ("chosen", (best[0], best[1]))):
            pair = [base64.b64decode(by_setting[key]), base64.b64decode(paper[key])]
            rows_up = asyncio.run(case_bytes(pair))
            total = sum(up for _, up in rows_up)
            parts = ", ".join(f"{what} {up / 1024:.1f} KB" for what, up in rows_up)
            print(f"one case, {label} {key}: {total / 1024:.0f} KB up ({parts})")
    if best:
        print(
            f"\nsmallest with SSIM ≥ {TARGET_SSIM} on every photo (as shown and upload):"
            f" {best[0]} px, quality {best[1]}"
        )


if __name__ == "__main__":
    main()
