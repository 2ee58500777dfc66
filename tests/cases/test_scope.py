"""Every case endpoint as every demo account against a 田园镇 case and a 卡斯镇 case:
out of scope is 404, so a case's existence is not leaked."""

from __future__ import annotations

import pytest

from tests.factories import KASI_POINT, TIANYUAN_POINT, auth, make_case
from tests.media.images import jpeg, sha

# Who sees which case: 田园镇's is logged by mediator1 (关庙社区 team), 卡斯镇's by mediator2.
SEES = {
    "county": {"tianyuan", "kasi"},
    "tianyuan": {"tianyuan"},
    "kasi": {"kasi"},
    "mediator1": {"tianyuan"},
    "mediator2": {"kasi"},
    "leader1": {"tianyuan"},
}


@pytest.fixture
async def two_cases(client):
    """Each with a scene photo its mediator uploaded."""
    cases = {}
    for where, username, point in (
        ("tianyuan", "mediator1", TIANYUAN_POINT),
        ("kasi", "mediator2", KASI_POINT),
    ):
        photo = jpeg()
        uploaded = await client.put(
            f"/api/media/{sha(photo)}", content=photo, headers=await auth(client, username)
        )
        assert uploaded.status_code == 201, uploaded.text
        cases[where] = await make_case(
            client, username, point=point, title=f"{where}的纠纷", photos=[sha(photo)]
        )
        assert cases[where]["missing_photos"] == []
    return cases


@pytest.mark.parametrize("username", list(SEES))
async def test_each_account_sees_exactly_its_cases(client, two_cases, username):
    headers = await auth(client, username)
    listed = set()
    cursor = None
    while True:
        params = {"limit": 200, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/api/cases", params=params, headers=headers)).json()
        listed |= {c["id"] for c in page["items"]}
        cursor = page["next_cursor"]
        if not cursor:
            break
    for where, case in two_cases.items():
        visible = where in SEES[username]
        assert (case["id"] in listed) == visible, (username, where)
        detail = await client.get(f"/api/cases/{case['id']}", headers=headers)
        assert detail.status_code == (200 if visible else 404), (username, where)
        note = await client.post(
            f"/api/cases/{case['id']}/actions", json={"action": "note", "text": "看一看"}, headers=headers
        )
        # A note on a reported case is not a legal transition; only those who see the case learn that.
        assert note.status_code in ((403, 409) if visible else (404,)), (username, where, note.text)
        agreement = await client.get(f"/api/cases/{case['id']}/agreement", headers=headers)
        assert agreement.status_code in ((404, 403) if visible else (404,))
        photo = await client.get(
            f"/api/media/{case['photos'][0]['sha256']}", params={"size": "thumb"}, headers=headers
        )
        assert photo.status_code == (200 if visible else 404), (username, where)
        if visible:
            assert photo.headers["content-type"] == "image/jpeg"
        if not visible:
            assert detail.json()["code"] == "not_found"
            for response in (detail, note, agreement, photo):
                assert case["title"] not in response.text


@pytest.mark.parametrize("username", list(SEES))
async def test_filters_cannot_widen_the_scope(client, two_cases, username):
    headers = await auth(client, username)
    for township in ("530524101000", "530524104000"):
        page = (
            await client.get("/api/cases", params={"township": township, "limit": 200}, headers=headers)
        ).json()
        for item in page["items"]:
            where = "tianyuan" if item["township"]["code"] == "530524101000" else "kasi"
            assert where in SEES[username]


async def test_unknown_and_malformed_ids_are_404(client):
    headers = await auth(client, "county")
    assert (
        await client.get("/api/cases/00000000-0000-0000-0000-000000000000", headers=headers)
    ).status_code == 404
    assert (await client.get("/api/cases/not-a-uuid", headers=headers)).status_code == 404


async def test_cursor_pages_cover_everything_once(client):
    headers = await auth(client, "mediator1")
    for _ in range(5):
        await make_case(client, "mediator1")
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/api/cases", params=params, headers=headers)).json()
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) >= 5
    bad = await client.get("/api/cases", params={"cursor": "!!!"}, headers=headers)
    assert bad.status_code == 400 and bad.json()["code"] == "request.invalid_cursor"
