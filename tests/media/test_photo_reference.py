"""A photo by reference: a hash named in a case, an edit, an agreement or a visit must be one the caller
sent or may already see. Knowing a hash is not holding the photo (hashes are shown wherever a photo is
used), so naming another township's photo neither stores anything nor opens the photo."""

from __future__ import annotations

from datetime import datetime

from backend.cases.tables import Case, CasePhoto
from backend.core import clock
from tests.factories import KASI_POINT, auth, case_body, make_case
from tests.media.images import jpeg, sha
from tests.notify.support import AGREEMENT, close_case_at
from tests.sync.helpers import create_op, push, update_op

NOT_USABLE = "media.photo_not_usable"


async def upload(client, username: str, data: bytes) -> str:
    r = await client.put(f"/api/media/{sha(data)}", content=data, headers=await auth(client, username))
    assert r.status_code in (200, 201), r.text
    return sha(data)


async def tianyuan_photo(client) -> tuple[str, str]:
    """(case id, photo hash) of a 田园镇 case logged by mediator1 with his photo."""
    photo = await upload(client, "mediator1", jpeg())
    case = await make_case(client, "mediator1", photos=[photo])
    return case["id"], photo


async def photo_status(client, username: str, photo: str) -> int:
    r = await client.get(f"/api/media/{photo}?size=thumb", headers=await auth(client, username))
    return r.status_code


async def test_mediator2_naming_a_tianyuan_photo_in_his_case_is_refused_and_cannot_read_it(client):
    _, photo = await tianyuan_photo(client)
    body = case_body(KASI_POINT, photos=[photo])
    r = await client.post("/api/cases", json=body, headers=await auth(client, "mediator2"))
    assert r.status_code == 400
    assert r.json()["code"] == NOT_USABLE and "不能使用这张照片" in r.json()["message"]
    assert not await Case.exists().where(Case.id == body["id"]).run()
    assert await CasePhoto.count().where(CasePhoto.sha256 == photo).run() == 1  # mediator1's case only
    assert await photo_status(client, "mediator2", photo) == 404
    head = await client.head(f"/api/media/{photo}", headers=await auth(client, "mediator2"))
    assert head.status_code == 404  # not "complete": the answer is per user


async def test_kasi_supervisor_is_refused_too(client):
    _, photo = await tianyuan_photo(client)
    body = case_body(KASI_POINT, photos=[photo])
    r = await client.post("/api/cases", json=body, headers=await auth(client, "kasi"))
    assert r.status_code == 400 and r.json()["code"] == NOT_USABLE
    assert not await Case.exists().where(Case.id == body["id"]).run()
    assert await photo_status(client, "kasi", photo) == 404


async def test_an_edit_adding_a_foreign_photo_is_refused_and_changes_nothing(client):
    _, photo = await tianyuan_photo(client)
    own = await upload(client, "mediator2", jpeg())
    case = await make_case(client, "mediator2", point=KASI_POINT, photos=[own])
    r = await client.post(
        "/api/sync/push",
        json={"ops": [update_op(case["id"], 1, photos=[own, photo])]},
        headers=await auth(client, "mediator2"),
    )
    result = r.json()["results"][0]
    assert result["status"] == "rejected" and result["code"] == NOT_USABLE
    detail = (await client.get(f"/api/cases/{case['id']}", headers=await auth(client, "mediator2"))).json()
    assert [p["sha256"] for p in detail["photos"]] == [own] and detail["version"] == 1
    assert await photo_status(client, "mediator2", photo) == 404


async def test_a_sync_create_with_a_foreign_hash_is_rejected(client):
    _, photo = await tianyuan_photo(client)
    create = create_op(point=KASI_POINT, photos=[photo])
    results = await push(client, await auth(client, "mediator2"), create)
    assert results[0]["status"] == "rejected" and results[0]["code"] == NOT_USABLE
    assert not await Case.exists().where(Case.id == create["entity_id"]).run()


async def test_the_uploader_uses_his_fresh_upload_and_a_photo_not_sent_yet_waits_for_him(client):
    fresh, later = jpeg(), jpeg()
    photo = await upload(client, "mediator2", fresh)
    create = create_op(point=KASI_POINT, photos=[photo, sha(later)])
    results = await push(client, await auth(client, "mediator2"), create)
    # A case may arrive before its photos: the one not sent yet is listed as missing, not refused.
    assert results[0]["status"] == "applied" and results[0]["missing_photos"] == [sha(later)]
    await upload(client, "mediator2", later)
    assert await photo_status(client, "mediator2", photo) == 200
    assert await photo_status(client, "mediator2", sha(later)) == 200


async def test_sending_the_same_bytes_makes_the_photo_yours(client):
    """Two people may hold one photo (forwarded in a chat): whoever sends the bytes may use it."""
    data = jpeg()
    await upload(client, "mediator1", data)
    await make_case(client, "mediator1", photos=[sha(data)])
    again = await client.put(f"/api/media/{sha(data)}", content=data, headers=await auth(client, "mediator2"))
    assert again.status_code == 200  # stored already: the bytes were checked, not stored twice
    head = await client.head(f"/api/media/{sha(data)}", headers=await auth(client, "mediator2"))
    assert head.status_code == 200 and head.headers["x-media-status"] == "complete"
    await make_case(client, "mediator2", point=KASI_POINT, photos=[sha(data)])
    assert await photo_status(client, "mediator2", sha(data)) == 200


async def test_a_supervisor_who_sees_the_case_may_use_its_photo(client):
    _, photo = await tianyuan_photo(client)
    head = await client.head(f"/api/media/{photo}", headers=await auth(client, "tianyuan"))
    assert head.status_code == 200 and head.headers["x-media-status"] == "complete"
    await make_case(client, "tianyuan", photos=[photo])


async def test_an_agreement_signed_photo_must_be_usable(client):
    foreign = await upload(client, "mediator2", jpeg())
    case = await make_case(client, "mediator1")
    headers = await auth(client, "leader1")
    assert (
        await client.post(f"/api/cases/{case['id']}/actions", json={"action": "accept"}, headers=headers)
    ).status_code == 200
    r = await client.post(
        f"/api/cases/{case['id']}/actions",
        json={"action": "resolve", "agreement": {**AGREEMENT, "signed_photo": foreign}},
        headers=await auth(client, "mediator1"),
    )
    assert r.status_code == 400 and r.json()["code"] == NOT_USABLE
    detail = (await client.get(f"/api/cases/{case['id']}", headers=await auth(client, "mediator1"))).json()
    assert detail["state"] == "mediating" and detail["agreement"] is None
    assert await photo_status(client, "mediator1", foreign) == 404


async def test_a_visit_photo_must_be_usable(client):
    foreign = await upload(client, "mediator2", jpeg())
    case = await close_case_at(client, datetime(2027, 2, 1, 10, 0, tzinfo=clock.LOCAL_TZ))
    visit_id = case["visits"][0]["id"]
    body = {
        "method": "phone",
        "satisfaction": "satisfied",
        "recurred": False,
        "notes": "电话回访",
        "photos": [foreign],
    }
    with clock.frozen(datetime(2027, 2, 8, 11, 0, tzinfo=clock.LOCAL_TZ)):
        r = await client.post(
            f"/api/visits/{visit_id}/record", json=body, headers=await auth(client, "mediator1")
        )
    assert r.status_code == 400 and r.json()["code"] == NOT_USABLE
    detail = (await client.get(f"/api/cases/{case['id']}", headers=await auth(client, "mediator1"))).json()
    assert detail["visits"][0]["status"] == "scheduled" and detail["state"] == "closed"
    assert await photo_status(client, "mediator1", foreign) == 404


async def test_every_photo_view_is_audited_with_the_case_it_was_seen_through(client):
    case_id, photo = await tianyuan_photo(client)
    assert await photo_status(client, "tianyuan", photo) == 200
    etag = f'"{photo}-thumb"'
    cached = await client.get(
        f"/api/media/{photo}?size=thumb", headers={**await auth(client, "tianyuan"), "If-None-Match": etag}
    )
    assert cached.status_code == 304
    assert await photo_status(client, "mediator2", photo) == 404  # refused: not a view
    entries = (
        await client.get("/api/audit", params={"case": case_id}, headers=await auth(client, "county"))
    ).json()
    reads = [e for e in entries if e["action"] == "photo.read"]
    assert [(e["username"], e["detail"]) for e in reads] == [
        ("tianyuan", {"sha256": photo, "size": "thumb"}),
        ("tianyuan", {"sha256": photo, "size": "thumb"}),
    ]
