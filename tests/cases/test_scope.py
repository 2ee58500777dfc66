"""Every case endpoint as every kind of account against cases in two townships: out of scope is 404,
so a case's existence is not leaked."""

from __future__ import annotations

import pytest

from tests.factories import (
    KASI_POINT,
    TIANYUAN_POINT,
    auth,
    bearer,
    case_body,
    login,
    make_case,
    make_user,
    tokens_for,
)
from tests.media.images import jpeg, sha

TIANYUAN = "530524101000"  # 田园镇
KASI = "530524104000"  # 卡斯镇
GUANMIAO = "530524101001"  # 田园镇 关庙社区 (TIANYUAN_POINT is in it)
BAOFENG = "530524101002"  # 田园镇 宝丰社区
BAOFENG_POINT = (99.638025, 24.866344)

# The accounts besides the demo's: grid workers, made by the county office for each test.
GRID_WORKERS = {
    "grid_village": GUANMIAO,  # a grid worker of 关庙社区
    "grid_township": TIANYUAN,  # a grid worker of the whole of 田园镇
}

# The cases: who reports each, and where.
CASES = {
    "guanmiao": ("mediator1", TIANYUAN_POINT),  # owned by 关庙社区's team
    "baofeng": ("tianyuan", BAOFENG_POINT),  # logged by the township: owned by no team
    "kasi": ("mediator2", KASI_POINT),  # owned by mediator2's team (卡斯社区)
    "by_village_worker": ("grid_village", KASI_POINT),  # reported outside the worker's village
    "by_township_worker": ("grid_township", KASI_POINT),  # reported outside the worker's township
}
TOWNSHIP_OF = {
    "guanmiao": TIANYUAN,
    "baofeng": TIANYUAN,
    "kasi": KASI,
    "by_village_worker": KASI,
    "by_township_worker": KASI,
}

# Who sees which case.
SEES = {
    "county": {"guanmiao", "baofeng", "kasi", "by_village_worker", "by_township_worker"},
    "tianyuan": {"guanmiao", "baofeng"},
    "kasi": {"kasi", "by_village_worker", "by_township_worker"},
    "mediator1": {"guanmiao"},
    "mediator2": {"kasi"},
    "leader1": {"guanmiao"},
    # A grid worker: the cases of their village (or township), and the ones they reported.
    "grid_village": {"guanmiao", "by_village_worker"},
    "grid_township": {"guanmiao", "baofeng", "by_township_worker"},
}

# The printable agreement of a case they see: none yet (a reported case), except for grid workers,
# who may not print one at all (it names the parties in full).
AGREEMENT_IF_VISIBLE = {
    "county": (404, "case.no_agreement"),
    "tianyuan": (404, "case.no_agreement"),
    "kasi": (404, "case.no_agreement"),
    "mediator1": (404, "case.no_agreement"),
    "mediator2": (404, "case.no_agreement"),
    "leader1": (404, "case.no_agreement"),
    "grid_village": (403, "auth.forbidden"),
    "grid_township": (403, "auth.forbidden"),
}


@pytest.fixture
async def headers_of(client):
    """Authorization headers for a demo account or one of GRID_WORKERS."""
    county = await tokens_for(client, "county")
    workers = {}
    for label, scope in GRID_WORKERS.items():
        user = await make_user(client, county, role="grid_worker", scope_code=scope)
        workers[label] = bearer(await login(client, user["username"], user["password"]))

    async def get(account: str) -> dict[str, str]:
        return workers[account] if account in workers else await auth(client, account)

    return get


@pytest.fixture
async def cases(client, headers_of):
    """CASES, each with a scene photo its reporter uploaded."""
    made = {}
    for name, (reporter, point) in CASES.items():
        headers = await headers_of(reporter)
        photo = jpeg()
        uploaded = await client.put(f"/api/media/{sha(photo)}", content=photo, headers=headers)
        assert uploaded.status_code == 201, uploaded.text
        created = await client.post(
            "/api/cases", json=case_body(point, title=f"{name}的纠纷", photos=[sha(photo)]), headers=headers
        )
        assert created.status_code == 201, created.text
        made[name] = created.json()
        assert made[name]["missing_photos"] == []
        assert made[name]["township"]["code"] == TOWNSHIP_OF[name]
    assert made["guanmiao"]["village"]["code"] == GUANMIAO
    assert made["baofeng"]["village"]["code"] == BAOFENG
    return made


def answer(response) -> tuple[int, str]:
    return response.status_code, response.json()["code"]


async def _list_all(client, headers: dict[str, str], **filters) -> set[str]:
    listed = set()
    cursor = None
    while True:
        params = {"limit": 200, **filters, **({"cursor": cursor} if cursor else {})}
        response = await client.get("/api/cases", params=params, headers=headers)
        assert response.status_code == 200, response.text
        page = response.json()
        listed |= {c["id"] for c in page["items"]}
        cursor = page["next_cursor"]
        if not cursor:
            return listed


@pytest.mark.parametrize("account", list(SEES))
async def test_each_account_sees_exactly_its_cases(client, cases, headers_of, account):
    headers = await headers_of(account)
    expected = {cases[name]["id"] for name in SEES[account]}
    assert await _list_all(client, headers) == expected, account
    markers = await client.get("/api/map/cases", params={"limit": 50000}, headers=headers)
    assert markers.status_code == 200
    fields = markers.json()["fields"]
    assert {dict(zip(fields, row, strict=True))["id"] for row in markers.json()["rows"]} == expected

    for name, case in cases.items():
        visible = name in SEES[account]
        detail = await client.get(f"/api/cases/{case['id']}", headers=headers)
        close = await client.post(
            f"/api/cases/{case['id']}/actions", json={"action": "close"}, headers=headers
        )
        agreement = await client.get(f"/api/cases/{case['id']}/agreement", headers=headers)
        photo = await client.get(
            f"/api/media/{case['photos'][0]['sha256']}", params={"size": "thumb"}, headers=headers
        )
        where = (account, name)
        if visible:
            assert detail.status_code == 200, where
            # Closing a reported case is not a legal transition; only those who see the case learn that.
            assert answer(close) == (409, "case.invalid_transition"), where
            assert answer(agreement) == AGREEMENT_IF_VISIBLE[account], where
            assert photo.status_code == 200 and photo.headers["content-type"] == "image/jpeg", where
        else:
            for response in (detail, close, agreement, photo):
                assert answer(response) == (404, "not_found"), (*where, str(response.request.url))
                assert case["title"] not in response.text


@pytest.mark.parametrize("account", list(SEES))
async def test_filters_cannot_widen_the_scope(client, cases, headers_of, account):
    headers = await headers_of(account)
    for township in (TIANYUAN, KASI):
        listed = await _list_all(client, headers, township=township)
        expected = {cases[name]["id"] for name in SEES[account] if TOWNSHIP_OF[name] == township}
        assert listed == expected, (account, township)


async def test_unknown_and_malformed_ids_are_404(client):
    headers = await auth(client, "county")
    unknown = await client.get("/api/cases/00000000-0000-0000-0000-000000000000", headers=headers)
    assert unknown.status_code == 404 and unknown.json()["code"] == "not_found"
    malformed = await client.get("/api/cases/not-a-uuid", headers=headers)
    assert malformed.status_code == 404 and malformed.json()["code"] == "not_found"


async def test_cursor_pages_cover_everything_once(client):
    headers = await auth(client, "mediator1")
    made = [(await make_case(client, "mediator1"))["id"] for _ in range(5)]
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/api/cases", params=params, headers=headers)).json()
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == 5
    assert set(seen) == set(made)
    bad = await client.get("/api/cases", params={"cursor": "!!!"}, headers=headers)
    assert bad.status_code == 400 and bad.json()["code"] == "request.invalid_cursor"
