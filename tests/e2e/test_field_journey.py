"""The mediator's day on a phone without signal: capture a dispute with two 12 MP photos offline, reload
offline, sync when the signal returns, see the visit after closing, and get a push.

Also: the network is cut in the middle of a sync of 20 items; afterwards the server has exactly 20."""

from __future__ import annotations

import asyncio
import io
import json
import os
import random
import sys

import httpx
import pytest
from PIL import Image

from tests.cases.test_workflow import AGREEMENT
from tests.e2e.conftest import PHONE, screenshot_path
from tests.factories import act, auth

# Chromium driving a server process of its own (live_server): 5 to 25 s a test.
pytestmark = [pytest.mark.e2e, pytest.mark.server, pytest.mark.slow]

PHONE_TITLE = "邻居堆放建材占用通道"
TIANYUAN = "530524101000"  # 田园镇
GUANMIAO = "530524101001"  # 关庙社区


def phone_photo(seed: int, orientation: int | None = None) -> bytes:
    """A 4000×3000 JPEG that compresses like a real photo: smooth colour fields plus sensor noise."""
    rng = random.Random(seed)
    small = Image.new("RGB", (40, 30))
    small.putdata(
        [(rng.randrange(40, 220), rng.randrange(60, 200), rng.randrange(30, 180)) for _ in range(1200)]
    )
    image = small.resize((4000, 3000), Image.Resampling.BICUBIC)
    noise = Image.effect_noise((4000, 3000), 28).convert("RGB")
    image = Image.blend(image, noise, 0.18)
    # A dark bar across the top: after EXIF rotation it must end up on the right side.
    image.paste((20, 20, 20), (0, 0, 4000, 300))
    exif = Image.Exif()
    exif[0x010F] = "Xiaomi"  # Make
    if orientation:
        exif[0x0112] = orientation
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90, exif=exif.tobytes())
    return out.getvalue()


async def login_phone(page, goto: bool = True) -> None:
    if goto:
        await page.goto("/")
    await page.get_by_test_id("login-username").fill("mediator1")
    await page.get_by_test_id("login-password").fill("demo-2026")
    await page.get_by_test_id("login-submit").click()
    await page.get_by_test_id("me-name").wait_for()
    # The first sync brings categories and the township's grids (for locating offline).
    await page.wait_for_function(
        "() => document.querySelector('[data-testid=last-sync]')?.textContent !== '从未'", timeout=30_000
    )


async def wait_controlled(page) -> None:
    """The service worker is active (precache done) and controls the page."""
    await page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    await page.wait_for_function("() => !!navigator.serviceWorker.controller", timeout=15_000)


async def api_client(base: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=base, timeout=30)


async def sw_registration_id(cdp) -> str:
    found: asyncio.Future = asyncio.get_running_loop().create_future()

    def on_update(event):
        for reg in event.get("registrations", []):
            if not reg.get("isDeleted") and not found.done():
                found.set_result(reg["registrationId"])

    cdp.on("ServiceWorker.workerRegistrationUpdated", on_update)
    await cdp.send("ServiceWorker.enable")
    return await asyncio.wait_for(found, 10)


async def test_offline_capture_syncs_with_photos_then_visit_and_push(phone, live_server, tmp_path):
    page = phone
    context = page.context
    await context.grant_permissions(["geolocation", "notifications"])
    await login_phone(page)
    await wait_controlled(page)
    await page.screenshot(path=screenshot_path("10-home-online"))

    # --- no signal from here -------------------------------------------------------------------------
    await context.set_offline(True)
    await page.get_by_test_id("offline-banner").wait_for()
    await page.screenshot(path=screenshot_path("11-home-offline"))

    await page.get_by_test_id("go-capture").click()
    await page.get_by_test_id("cap-title").wait_for()
    await page.get_by_test_id("cap-category").select_option("neighbour")
    await page.get_by_test_id("cap-title").fill(PHONE_TITLE)
    await page.get_by_test_id("cap-desc").fill(
        "张家翻修房屋，建材堆放在共用通道上，李家出入不便，双方发生口角。"
    )
    await page.get_by_test_id("cap-level-small").click()
    await page.get_by_test_id("party-0-name").fill("张建华")
    await page.get_by_test_id("party-0-phone").fill("1381234567")
    assert "还差 1 位" in await page.get_by_test_id("party-0-phone-error").inner_text()  # checked as typed
    await page.get_by_test_id("party-0-phone").fill("13812345678")
    await page.get_by_test_id("party-0-id").fill("110105194912310021")
    assert "校验位" in await page.get_by_test_id("party-0-id-error").inner_text()
    await page.get_by_test_id("party-0-id").fill("11010519491231002X")
    await page.get_by_test_id("party-1-name").fill("李秀英")
    await page.get_by_test_id("party-1-phone").fill("0875-6123456")

    photos = [tmp_path / "IMG_0001.jpg", tmp_path / "IMG_0002.jpg"]
    photos[0].write_bytes(phone_photo(1))
    photos[1].write_bytes(phone_photo(2, orientation=6))  # taken with the phone upright
    assert all(p.stat().st_size > 1_000_000 for p in photos)
    await page.get_by_test_id("cap-gallery").set_input_files([str(p) for p in photos])
    await page.wait_for_function(
        "() => document.querySelectorAll('[data-testid=cap-photo] img').length === 2", timeout=60_000
    )

    place = page.get_by_test_id("cap-place")
    await place.wait_for()
    await page.wait_for_function(
        "() => document.querySelector('[data-testid=cap-place]')?.textContent.includes('关庙社区')",
        timeout=15_000,
    )
    assert "田园镇" in await place.inner_text()
    assert "±15 米" in await page.get_by_test_id("cap-accuracy").inner_text()
    if await page.get_by_test_id("cap-boundary").count():
        await page.get_by_test_id("cap-boundary-ok").check()
    await page.screenshot(path=screenshot_path("12-capture"), full_page=True)

    # The map picker (Leaflet, its own chunk) works offline from the synced grid polygons.
    await page.get_by_test_id("cap-map").click()
    await page.get_by_test_id("map-place").wait_for()
    assert "关庙社区" in await page.get_by_test_id("map-place").inner_text()
    await page.screenshot(path=screenshot_path("12b-map-picker"))
    await page.get_by_test_id("back").click()
    await page.get_by_test_id("cap-title").wait_for()

    # A half-filled form survives closing the app: reload and find it again.
    await page.reload()
    await page.get_by_test_id("draft-restored").wait_for()
    assert await page.get_by_test_id("cap-title").input_value() == PHONE_TITLE
    assert await page.locator("[data-testid=cap-photo]").count() == 2

    await page.get_by_test_id("cap-save").click()
    try:
        await page.get_by_test_id("saved-note").wait_for(timeout=10_000)
    except Exception:
        await page.screenshot(path=screenshot_path("debug-save"), full_page=True)
        raise
    item = page.get_by_test_id("outbox-item")
    await item.wait_for()
    assert await item.count() == 1
    assert await item.get_attribute("data-state") == "waiting"
    assert PHONE_TITLE in await item.inner_text()
    await page.screenshot(path=screenshot_path("13-outbox-offline"), full_page=True)

    # --- reload while offline: the service worker serves the app, the item is still there --------------
    await page.reload()
    await page.get_by_test_id("outbox-item").wait_for()
    assert await page.get_by_test_id("outbox-item").count() == 1
    await page.get_by_test_id("tab-cases").click()
    await page.get_by_test_id("case-item").first.wait_for()
    await page.screenshot(path=screenshot_path("14-cases-offline"))
    await page.get_by_test_id("case-item").first.click()
    await page.get_by_test_id("case-detail").wait_for()
    await page.screenshot(path=screenshot_path("15-case-unsent"), full_page=True)
    await page.goto("/outbox")  # offline: served by the service worker again
    await page.get_by_test_id("outbox-item").wait_for()

    # --- signal again: it syncs by itself ---------------------------------------------------------------
    await context.set_offline(False)
    await page.get_by_test_id("outbox-empty").wait_for(timeout=60_000)
    await page.get_by_test_id("sent-item").first.wait_for()
    await page.screenshot(path=screenshot_path("16-outbox-synced"), full_page=True)

    async with await api_client(live_server) as client:
        headers = await auth(client, "mediator1")
        listed = (await client.get("/api/cases?limit=200", headers=headers)).json()["items"]
        assert [c["title"] for c in listed] == [PHONE_TITLE]  # the one case, sent once
        case = (await client.get(f"/api/cases/{listed[0]['id']}", headers=headers)).json()
        assert case["parties"][0]["name"] == "张建华"
        assert case["township"]["code"] == TIANYUAN
        assert case["village"]["code"] == GUANMIAO
        assert case["grid"]["code"].startswith(GUANMIAO)
        assert case["location_source"] == "gps" and case["accuracy_m"] == 15
        assert len(case["photos"]) == 2 and all(p["status"] == "complete" for p in case["photos"])
        assert case["missing_photos"] == []
        sizes = []
        for p in case["photos"]:
            res = await client.get(f"/api/media/{p['sha256']}?size=full", headers=headers)
            assert res.status_code == 200
            sizes.append(Image.open(io.BytesIO(res.content)).size)
        # Shrunk on the phone to at most 1600 px; the EXIF-rotated one is upright (portrait).
        assert sorted(sizes) == sorted([(1600, 1200), (1200, 1600)]), sizes
        for p, size in zip(case["photos"], sizes, strict=True):
            if size == (1200, 1600):
                portrait = Image.open(
                    io.BytesIO(
                        (await client.get(f"/api/media/{p['sha256']}?size=thumb", headers=headers)).content
                    )
                ).convert("L")
                w, h = portrait.size
                right = portrait.crop((w - w // 20, 0, w, h)).resize((1, 1)).getpixel((0, 0))
                left = portrait.crop((0, 0, w // 20, h)).resize((1, 1)).getpixel((0, 0))
                assert right < 60 < left, (left, right)  # orientation 6: the top bar is now on the right

        # The team leader accepts (API); the mediator writes a note on the phone.
        cid = case["id"]
        assert case["state"] == "reported"
        assert (await act(client, "leader1", cid, "accept")).status_code == 200

    await page.goto(f"/cases/{cid}")
    await page.get_by_test_id("act-note").click()
    await page.get_by_test_id("act-text").fill("约双方到村委会面谈，张家同意三日内清理建材。")
    await page.screenshot(path=screenshot_path("16b-case-note"))
    await page.get_by_test_id("act-submit").click()
    await page.get_by_test_id("case-timeline").wait_for()
    await page.wait_for_function(
        "() => !document.querySelector('[data-testid=case-timeline]').textContent.includes('待发送')",
        timeout=30_000,
    )
    assert [row[:2] for row in await page.evaluate(READ_OUTBOX) if row[0] == "case.note"] == [
        ["case.note", "done"]
    ]
    await page.get_by_test_id("act-resolve").click()
    await page.get_by_test_id("agr-matters").fill(AGREEMENT["matters"])
    await page.screenshot(path=screenshot_path("16c-case-resolve-form"), full_page=True)
    await page.get_by_test_id("back").click()
    await page.get_by_test_id("case-detail").wait_for()

    # Resolve and close through the API (the mediator's own account).
    async with await api_client(live_server) as client:
        assert (await act(client, "mediator1", cid, "resolve", agreement=AGREEMENT)).status_code == 200
        closed = await act(client, "mediator1", cid, "close")
        assert closed.json()["state"] == "closed", closed.text
        visits_api = await client.get("/api/visits?mine=1", headers=await auth(client, "mediator1"))
        assert visits_api.status_code == 200, visits_api.text
        noted = (await client.get(f"/api/cases/{cid}", headers=await auth(client, "mediator1"))).json()
        assert [e["action"] for e in noted["events"]].count("note") == 1

    # The case detail on the phone shows the timeline and agreement after a sync.
    await page.goto(f"/cases/{cid}")
    await page.get_by_test_id("case-agreement").wait_for(timeout=20_000)
    assert "已办结" in await page.get_by_test_id("case-state").inner_text()
    await page.wait_for_function(
        "() => document.querySelectorAll('[data-testid=case-photo] img').length === 2"
    )
    await page.screenshot(path=screenshot_path("17-case-closed"), full_page=True)

    # --- after a sync the visit shows as upcoming (computed on the phone) ---------------------------------
    await page.goto("/")
    await page.get_by_test_id("sync-now").click()
    await page.wait_for_function(
        "() => !document.querySelector('[data-testid=sync-now]')?.disabled", timeout=30_000
    )
    await page.get_by_test_id("tab-visits").click()
    upcoming = page.get_by_test_id("visits-upcoming")
    await upcoming.wait_for(timeout=20_000)
    assert PHONE_TITLE in await upcoming.inner_text()
    assert "7 天后" in await upcoming.inner_text()  # 小事: one visit, 7 days after closing
    await page.screenshot(path=screenshot_path("18-visits"), full_page=True)

    # --- the reminder job makes an inbox item; tapping it opens the visit, which is recorded offline-safe ---
    [visit] = visits_api.json()["items"]  # 小事: one visit
    assert visit["case_id"] == cid
    env = {**os.environ, "FENGQIAO_LOG_LEVEL": "WARNING"}
    job = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "backend.cli", "visits", "remind", "--now", f"{visit['due_date']}T08:30:00+08:00"),
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await job.communicate()
    assert job.returncode == 0, err
    await page.goto("/inbox")
    await page.get_by_test_id("push-box").wait_for()
    # The reminder names the case by its number.
    reminder = page.get_by_test_id("inbox-item").filter(has_text="今日回访").filter(has_text=case["number"])
    await reminder.wait_for(timeout=20_000)
    await page.screenshot(path=screenshot_path("19-inbox"), full_page=True)
    await reminder.click()
    await page.get_by_test_id("visit-submit").wait_for()
    await page.get_by_test_id("visit-method-in_person").click()
    await page.get_by_test_id("visit-sat-satisfied").click()
    await page.get_by_test_id("visit-not-recurred").click()
    await page.get_by_test_id("visit-perf-performed").click()
    await page.get_by_test_id("visit-notes").fill("通道已清理，双方和好，对调解满意。")
    await page.wait_for_function(
        "() => document.querySelector('[data-testid=visit-gps]')?.textContent.includes('已定位')"
    )
    await page.screenshot(path=screenshot_path("20-visit-record"), full_page=True)
    await page.get_by_test_id("visit-submit").click()
    await page.get_by_test_id("tab-outbox").click()
    await page.get_by_test_id("outbox-empty").wait_for(timeout=30_000)
    async with await api_client(live_server) as client:
        done = (
            await client.get(f"/api/visits/{visit['id']}", headers=await auth(client, "mediator1"))
        ).json()
    assert done["status"] == "done" and done["satisfaction"] == "satisfied", done
    assert done["method"] == "in_person" and done["face_to_face"] is True, done

    # Headless Chromium has no push service: the opt-in ends in a clear note, and the inbox still works.
    await page.goto("/inbox")
    await page.get_by_test_id("push-enable").click()
    note = page.get_by_test_id("push-msg")
    await note.wait_for(timeout=30_000)
    assert "收件箱" in await note.inner_text()
    await page.screenshot(path=screenshot_path("19b-push-unavailable"))

    # --- a push delivered to the service worker shows a notification --------------------------------------
    cdp = await context.new_cdp_session(page)
    registration = await sw_registration_id(cdp)
    payload = {
        "title": "回访提醒",
        "body": "邻居修房占用通道 今天到期",
        "url": f"/cases/{cid}",
        "notification_id": 4242,
    }
    message = {
        "origin": live_server,
        "registrationId": registration,
        "data": json.dumps(payload, ensure_ascii=False),
    }
    titles: list = []
    # A push to a worker that is just starting up can be dropped by DevTools; deliver again then.
    for _attempt in range(3):
        await cdp.send("ServiceWorker.deliverPushMessage", message)
        for _ in range(40):
            titles = await context.service_workers[-1].evaluate(
                "self.registration.getNotifications()"
                ".then(ns => ns.map(n => [n.title, n.body, n.data && n.data.url]))"
            )
            if titles:
                break
            await asyncio.sleep(0.1)
        if titles:
            break
    assert titles == [["回访提醒", "邻居修房占用通道 今天到期", f"/cases/{cid}"]], titles

    await page.goto("/me")
    await page.get_by_test_id("logout").wait_for()
    await page.screenshot(path=screenshot_path("21-me"))


READ_OUTBOX = """() => new Promise((ok) => { const r = indexedDB.open('fengqiao');
  r.onsuccess = () => { const g = r.result.transaction('outbox').objectStore('outbox').getAll();
  g.onsuccess = () => ok(g.result.map(x => [x.type, x.state, x.lastError, x.result, x.prevOpId])) } })"""

READ_USER_ID = """() => new Promise((ok, no) => {
  const r = indexedDB.open('fengqiao'); r.onerror = no;
  r.onsuccess = () => {
    const g = r.result.transaction('session').objectStore('session').get('current');
    g.onsuccess = () => ok(g.result.user.id); g.onerror = no;
  };
})"""

WRITE_CASES = """([marker, userId, count]) => new Promise((ok, no) => {
  const r = indexedDB.open('fengqiao'); r.onerror = no;
  r.onsuccess = () => {
    const tx = r.result.transaction('outbox', 'readwrite');
    const store = tx.objectStore('outbox');
    const now = Date.now();
    for (let i = 1; i <= count; i++) {
      const id = crypto.randomUUID();
      const body = {
        id, category: 'neighbour', title: `${marker}-${String(i).padStart(2, '0')}`,
        description: '', level: 'small', occurred_at: null, photos: [],
        location: { lon: 99.615 + i * 1e-5, lat: 24.8256, accuracy_m: 12, crs: 'wgs84', source: 'gps' },
        parties: [{ name: '王五', phone: '', id_number: '', role: 'applicant' }],
      };
      store.add({
        id: crypto.randomUUID(), seq: i, type: 'case.create', entityId: id, baseVersion: null,
        prevOpId: null, payload: body, photos: [], clientTime: new Date(now).toISOString(), userId,
        label: '登记纠纷：' + body.title, state: 'waiting', attempts: 0, lastError: '', lastCode: '',
        nextAttemptAt: 0, createdAt: now + i, updatedAt: now, sentAt: null, progress: 0,
      });
    }
    tx.oncomplete = () => ok(true); tx.onerror = no;
  };
})"""


WRITE_CLASH = """([caseId, userId]) => new Promise((ok, no) => {
  const r = indexedDB.open('fengqiao'); r.onerror = no;
  r.onsuccess = () => {
    const tx = r.result.transaction('outbox', 'readwrite');
    const body = { id: caseId, category: 'neighbour', title: '另一部手机上的同号案件', description: '',
      level: 'small', occurred_at: null, photos: [], parties: [],
      location: { lon: 99.615, lat: 24.8256, accuracy_m: 12, crs: 'wgs84', source: 'gps' } };
    const now = Date.now();
    tx.objectStore('outbox').add({
      id: crypto.randomUUID(), seq: 1000, type: 'case.create', entityId: caseId, baseVersion: null,
      prevOpId: null, payload: body, photos: [], clientTime: new Date(now).toISOString(), userId,
      label: '登记纠纷：' + body.title, state: 'waiting', attempts: 0, lastError: '', lastCode: '',
      nextAttemptAt: 0, createdAt: now, updatedAt: now, sentAt: null, progress: 0,
    });
    tx.oncomplete = () => ok(true); tx.onerror = no;
  };
})"""


async def test_network_cut_mid_sync_of_20_items_loses_and_duplicates_nothing(browser, live_server):
    """20 cases wait in the outbox; the connection drops after the server has applied a batch but before
    the phone hears back. After recovery the server has each exactly once and the outbox is empty."""
    # This journey cuts the link in the middle of a /api/sync/push batch: the route must be there
    # (without a token a present route answers 401 auth.required, a missing one 404 not_found).
    async with httpx.AsyncClient(timeout=10) as probe_client:
        probe = await probe_client.post(f"{live_server}/api/sync/push", json={"ops": []})
    assert (probe.status_code, probe.json()["code"]) == (401, "auth.required"), probe.text
    context = await browser.new_context(
        viewport=PHONE,
        device_scale_factor=1,
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        geolocation={"longitude": 99.6150, "latitude": 24.8256, "accuracy": 15},
        permissions=["geolocation"],
        base_url=live_server,
        service_workers="block",  # request routing below must see every call
    )
    page = await context.new_page()
    try:
        await login_phone(page)
        await page.get_by_test_id(
            "tab-outbox"
        ).click()  # load the screens while online (no service worker here)
        await page.get_by_test_id("outbox-empty").wait_for()
        await page.get_by_test_id("tab-home").click()
        await context.set_offline(True)
        marker = "断网测试"
        user_id = await page.evaluate(READ_USER_ID)
        # 20 cases saved on the phone while offline, written to the outbox as the capture screen does.
        await page.evaluate(WRITE_CASES, [marker, user_id, 20])
        await page.get_by_test_id("tab-outbox").click()
        await page.wait_for_function(
            "() => document.querySelectorAll('[data-testid=outbox-item]').length === 20"
        )

        writes = {"n": 0, "cut": False}

        async def cut_second_write(route):
            request = route.request
            if request.method == "POST" and (
                request.url.endswith("/api/sync/push") or request.url.endswith("/api/cases")
            ):
                writes["n"] += 1
                if writes["n"] == 2 and not writes["cut"]:
                    writes["cut"] = True
                    await route.fetch()  # the server applies it ...
                    await context.set_offline(True)  # ... and the signal is gone before the answer arrives
                    await route.abort("internetdisconnected")
                    return
            await route.continue_()

        await context.route("**/api/**", cut_second_write)
        await context.set_offline(False)
        await page.wait_for_function(
            "() => document.querySelectorAll('[data-testid=outbox-item]').length < 20", timeout=30_000
        )
        await page.wait_for_function("() => !navigator.onLine", timeout=10_000)
        left = await page.locator("[data-testid=outbox-item]").count()
        assert 0 < left < 20, left
        await page.screenshot(path=screenshot_path("30-outbox-cut-mid-sync"), full_page=True)

        await context.set_offline(False)  # recovery: the online event resends what was not confirmed
        await page.get_by_test_id("outbox-empty").wait_for(timeout=60_000)
        assert writes["cut"]

        async with await api_client(live_server) as client:
            headers = await auth(client, "mediator1")
            items = (await client.get("/api/cases?limit=200", headers=headers)).json()["items"]
        titles = sorted(c["title"] for c in items)
        assert titles == [f"{marker}-{i:02d}" for i in range(1, 21)], titles

        # The same case id with different content (a phone restored from a backup, say): 409, shown as
        # needing attention with the reason, kept, never dropped.
        first = next(c for c in items if c["title"] == f"{marker}-01")
        await context.unroute("**/api/**")
        await page.evaluate(WRITE_CLASH, [first["id"], user_id])
        await page.get_by_test_id("tab-home").click()
        await page.get_by_test_id("sync-now").click()
        await page.get_by_test_id("tab-outbox").click()
        clash = page.locator("[data-testid=outbox-item][data-state=attention]")
        await clash.wait_for(timeout=30_000)
        assert "内容不同" in await clash.get_by_test_id("outbox-reason").inner_text()
        await page.screenshot(path=screenshot_path("32-outbox-needs-attention"))
    finally:
        await context.close()


async def test_revoked_device_is_told_and_keeps_its_unsent_items(browser, live_server):
    """An admin revokes the phone while a case waits in its outbox: the phone says so in Chinese, keeps
    the case, and sends it after the mediator signs in again."""
    context = await browser.new_context(
        viewport=PHONE,
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        base_url=live_server,
        service_workers="block",
    )
    page = await context.new_page()
    device_name = "停用测试手机"
    try:
        await page.goto("/")
        await page.get_by_test_id("login-device").fill(device_name)
        await login_phone(page, goto=False)
        await page.get_by_test_id("tab-outbox").click()
        await page.get_by_test_id("outbox-empty").wait_for()
        await context.set_offline(True)
        marker = "停用测试"
        await page.evaluate(WRITE_CASES, [marker, await page.evaluate(READ_USER_ID), 1])
        await page.get_by_test_id("tab-home").click()
        await page.get_by_test_id("tab-outbox").click()
        await page.get_by_test_id("outbox-item").wait_for()

        async with await api_client(live_server) as client:
            admin = await auth(client, "county")
            devices = (await client.get("/api/admin/devices", headers=admin)).json()
            device = next(d for d in devices if d["name"] == device_name)
            assert (
                await client.post(f"/api/admin/devices/{device['id']}/revoke", headers=admin)
            ).status_code == 204

        await context.set_offline(False)  # the sync hears 401 auth.device_revoked
        error = page.get_by_test_id("login-error")
        await error.wait_for(timeout=30_000)
        assert "此设备已被管理员停用" in await error.inner_text()
        assert "1 项未发送" in await page.get_by_test_id("login-kept").inner_text()
        await page.screenshot(path=screenshot_path("31-device-revoked"))

        await page.get_by_test_id("login-username").fill("mediator1")
        await page.get_by_test_id("login-password").fill("demo-2026")
        await page.get_by_test_id("login-submit").click()
        await page.get_by_test_id("me-name").wait_for()
        await page.get_by_test_id("tab-outbox").click()
        await page.get_by_test_id("outbox-empty").wait_for(timeout=30_000)
        async with await api_client(live_server) as client:
            items = (await client.get("/api/cases?limit=200", headers=await auth(client, "mediator1"))).json()
        assert [c["title"] for c in items["items"]] == [f"{marker}-01"]
    finally:
        await context.close()
