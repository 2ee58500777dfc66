"""The mediation agreement as the law asks (人民调解法 art. 28–33): a written one complete field by field,
an oral one with its register, the page printed before signing, the signed paper, 司法确认, 不公开."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta

import pytest

from backend.cases.tables import Agreement, CasePhoto
from backend.core import clock
from tests.factories import KASI_POINT, act, auth, make_case
from tests.media.images import jpeg
from tests.media.test_photo_reference import upload

SHANGHAI = clock.LOCAL_TZ
WRITTEN = {
    "form": "written",
    "facts": "张家翻修房屋期间将建材堆放在两家共用通道上。",
    "matters": "通道占用及清理时间。",
    "responsibilities": "张家堆放建材占用通道负主要责任；李家言语过激负次要责任。",
    "obligations": [
        {
            "party": 0,
            "content": "清理通道上的全部建材",
            "manner": "自行清运",
            "place": "两家共用通道",
            "deadline": "2026-12-20",
        },
        {
            "party": "李秀英",
            "content": "不再追究张家责任",
            "manner": "书面承诺",
            "place": "关庙社区调委会",
            "deadline": "2026-12-10",
        },
    ],
    "amount_yuan": 1200.5,
}
ORAL = {"form": "oral", "content": "张家当场同意今日内清走建材，李家表示不再追究。"}


async def mediating_case(client, username: str = "mediator1", **overrides) -> dict:
    case = await make_case(client, username, **overrides)
    leader = "leader1" if username == "mediator1" else "kasi"
    assert (await act(client, leader, case["id"], "accept")).status_code == 200
    return case


async def resolved_case(client, agreement: dict | None = None, **overrides) -> dict:
    case = await mediating_case(client, **overrides)
    r = await act(client, "mediator1", case["id"], "resolve", agreement=agreement or WRITTEN)
    assert r.status_code == 200, r.text
    return r.json()


def without(path: str) -> dict:
    """WRITTEN with one field emptied ("obligations.1.place" empties the second obligation's place)."""
    body = copy.deepcopy(WRITTEN)
    keys = path.split(".")
    target = body
    for k in keys[:-1]:
        target = target[int(k)] if k.isdigit() else target[k]
    last = keys[-1]
    if last == "obligations":
        target[last] = []
    elif last == "deadline":
        target.pop(last)
    else:
        target[last] = "  "
    return body


@pytest.mark.parametrize(
    ("emptied", "missing", "label"),
    [
        ("facts", "facts", "纠纷主要事实"),
        ("matters", "matters", "争议事项"),
        ("responsibilities", "responsibilities", "各方责任"),
        ("obligations", "obligations", "协议义务（至少一项）"),
        ("obligations.0.content", "obligations[0].content", "第1项义务的协议内容"),
        ("obligations.0.manner", "obligations[0].manner", "第1项义务的履行方式"),
        ("obligations.1.place", "obligations[1].place", "第2项义务的履行地点"),
        ("obligations.1.deadline", "obligations[1].deadline", "第2项义务的履行期限"),
    ],
)
async def test_a_written_agreement_missing_a_field_is_refused_naming_it(client, emptied, missing, label):
    case = await mediating_case(client)
    r = await act(client, "mediator1", case["id"], "resolve", agreement=without(emptied))
    assert r.status_code == 400
    body = r.json()
    assert body["code"] == "agreement.incomplete"
    assert body["missing"] == [missing]
    assert body["message"] == f"调解协议缺少：{label}"
    detail = (await client.get(f"/api/cases/{case['id']}", headers=await auth(client, "mediator1"))).json()
    assert detail["state"] == "mediating" and detail["agreement"] is None  # nothing half-written


async def test_every_missing_field_is_listed_at_once(client):
    case = await mediating_case(client)
    r = await act(client, "mediator1", case["id"], "resolve", agreement={"form": "written", "facts": "占道"})
    assert r.json()["missing"] == ["matters", "responsibilities", "obligations"]


async def test_nasty_input_is_refused_cleanly(client):
    case = await mediating_case(client)
    blank = copy.deepcopy(WRITTEN)
    blank["obligations"][0]["place"] = "\u200b\u3000"  # shows nothing: blank
    r = await act(client, "mediator1", case["id"], "resolve", agreement=blank)
    assert r.status_code == 400 and r.json()["missing"] == ["obligations[0].place"]
    nul = {**WRITTEN, "facts": "占道\u0000"}
    r = await act(client, "mediator1", case["id"], "resolve", agreement=nul)
    assert r.status_code == 400 and r.json()["code"] == "text.control_characters"
    huge = {**WRITTEN, "amount_yuan": 10**20}
    r = await act(client, "mediator1", case["id"], "resolve", agreement=huge)
    assert r.status_code == 400 and r.json()["code"] == "request.number_out_of_range"
    bad_format = await client.get(
        f"/api/cases/{case['id']}/agreement?format=pdf", headers=await auth(client, "mediator1")
    )
    assert bad_format.status_code == 400 and bad_format.json()["code"] == "case.invalid_format"
    detail = (await client.get(f"/api/cases/{case['id']}", headers=await auth(client, "mediator1"))).json()
    assert detail["state"] == "mediating" and detail["agreement"] is None


async def test_an_obligation_naming_someone_not_a_party_is_refused(client):
    case = await mediating_case(client)
    for party in ("王五", 7):
        body = copy.deepcopy(WRITTEN)
        body["obligations"][0]["party"] = party
        r = await act(client, "mediator1", case["id"], "resolve", agreement=body)
        assert r.status_code == 400 and r.json()["code"] == "agreement.unknown_party"


async def test_a_written_agreement_waits_for_signature_with_its_obligations(client):
    detail = await resolved_case(client)
    a = detail["agreement"]
    assert detail["state"] == "resolved"
    assert a["form"] == "written" and a["awaiting_signature"] is True and a["status_label"] == "待签字"
    assert [(o["party_name"], o["deadline"]) for o in a["obligations"]] == [
        ("张建华", "2026-12-20"),
        ("李秀英", "2026-12-10"),
    ]
    assert a["amount_yuan"] == 1200.5
    assert a["confirmation_deadline"] is None  # not in effect until signed


async def test_an_oral_agreement_needs_its_content_and_goes_to_the_register(client):
    case = await mediating_case(client)
    r = await act(client, "mediator1", case["id"], "resolve", agreement={"form": "oral", "content": " "})
    assert r.status_code == 400 and r.json()["missing"] == ["content"]
    r = await act(client, "mediator1", case["id"], "resolve", agreement=ORAL)
    a = r.json()["agreement"]
    assert a["form"] == "oral" and a["awaiting_signature"] is False and a["status_label"] == "口头协议"
    assert a["content"] == ORAL["content"] and a["confirmation_deadline"] is None
    register = await client.get("/api/agreements/oral", headers=await auth(client, "tianyuan"))
    assert [(e["number"], e["content"]) for e in register.json()] == [(case["number"], ORAL["content"])]
    page = await client.get("/api/agreements/oral?format=html", headers=await auth(client, "mediator1"))
    assert "口头调解协议登记" in page.text and ORAL["content"] in page.text
    # Another township's supervisor has nothing in their register.
    assert (await client.get("/api/agreements/oral", headers=await auth(client, "kasi"))).json() == []
    # An oral agreement is not signed and cannot go to court.
    photo = await upload(client, "mediator1", jpeg())
    signed = await act(client, "mediator1", case["id"], "attach_signed_agreement", photos=[photo])
    assert signed.status_code == 409 and signed.json()["code"] == "agreement.not_written"


async def test_its_print_is_the_register_entry_without_signature_lines(client):
    detail = await resolved_case(client, ORAL)
    page = await client.get(f"/api/cases/{detail['id']}/agreement", headers=await auth(client, "mediator1"))
    assert "口头调解协议登记" in page.text and ORAL["content"] in page.text
    assert "当事人（签名" not in page.text


async def test_the_printed_agreement_names_the_village_committee_every_party_and_the_copies(client):
    detail = await resolved_case(client)
    page = await client.get(f"/api/cases/{detail['id']}/agreement", headers=await auth(client, "mediator1"))
    assert page.status_code == 200 and page.headers["cache-control"] == "private, no-store"
    html = page.text
    assert "关庙社区人民调解委员会（印章）" in html
    team = detail["owner_team"]["name"]
    assert f"（{team}）" in html and f"{team}（印章）" not in html  # the team is the mediators', not the seal
    # Two parties: three copies, each saying whose it is, each with a signature line for both.
    assert "共 3 份：当事人各执一份，关庙社区人民调解委员会留存一份" in html
    for who in ("当事人张建华收执", "当事人李秀英收执", "关庙社区人民调解委员会存档"):
        assert html.count(who) == 1
    assert (
        html.count("当事人（签名、按指印）：张建华") == 3
        and html.count("当事人（签名、按指印）：李秀英") == 3
    )
    assert html.count("人民调解员（签名）：王德明") == 3
    assert "11010519491231002X" in html  # the parties' ID numbers, for those who may see them
    assert "履行地点：两家共用通道" in html and "2026年12月20日前" in html and "1200.50 元" in html


async def test_every_print_is_audited_with_who_and_which_case(client):
    detail = await resolved_case(client)
    for who in ("mediator1", "tianyuan"):
        r = await client.get(f"/api/cases/{detail['id']}/agreement", headers=await auth(client, who))
        assert r.status_code == 200
    audit = await client.get(
        "/api/audit", params={"case": detail["id"]}, headers=await auth(client, "county")
    )
    prints = [(a["username"], a["case"]) for a in audit.json() if a["action"] == "agreement.print"]
    assert sorted(prints) == [("mediator1", detail["id"]), ("tianyuan", detail["id"])]


async def test_another_townships_case_is_not_there(client):
    case = await mediating_case(client, "mediator2", point=KASI_POINT)
    r = await act(client, "mediator2", case["id"], "resolve", agreement=WRITTEN)
    assert r.status_code == 200, r.text
    for who in ("tianyuan", "mediator1"):
        page = await client.get(f"/api/cases/{case['id']}/agreement", headers=await auth(client, who))
        assert page.status_code == 404
        for action, body in (
            ("record_confirmation", {"applied": False}),
            ("set_confidential", {"confidential": True}),
        ):
            assert (await act(client, who, case["id"], action, **body)).status_code == 404


async def test_the_signed_paper_puts_it_in_effect_and_starts_the_30_days(client):
    detail = await resolved_case(client)
    foreign = await upload(client, "mediator2", jpeg())
    r = await act(client, "mediator1", detail["id"], "attach_signed_agreement", photos=[foreign])
    assert r.status_code == 400 and r.json()["code"] == "media.photo_not_usable"
    photo = await upload(client, "mediator1", jpeg())
    at = datetime(2026, 12, 5, 15, 0, tzinfo=SHANGHAI)
    with clock.frozen(at):
        r = await act(client, "mediator1", detail["id"], "attach_signed_agreement", photos=[photo])
    assert r.status_code == 200, r.text
    a = r.json()["agreement"]
    assert a["awaiting_signature"] is False and a["status_label"] == "已签字生效"
    assert a["signed_photos"] == [photo] and a["confirmation_deadline"] == "2027-01-04"
    assert {(p["sha256"], p["purpose"]) for p in r.json()["photos"]} == {(photo, "agreement")}
    # A second photo of the same paper does not move the date it took effect.
    second = await upload(client, "mediator1", jpeg())
    with clock.frozen(at + timedelta(days=3)):
        r = await act(client, "mediator1", detail["id"], "attach_signed_agreement", photos=[second])
    assert r.json()["agreement"]["signed_photos"] == [photo, second]
    assert r.json()["agreement"]["confirmation_deadline"] == "2027-01-04"
    assert await CasePhoto.count().where(CasePhoto.purpose == "agreement").run() == 2


async def test_the_court_confirmation_is_recorded_completely(client):
    detail = await resolved_case(client)
    r = await act(
        client, "mediator1", detail["id"], "record_confirmation", applied=True, court="昌宁县人民法院"
    )
    assert r.status_code == 400 and r.json()["code"] == "agreement.confirmation_incomplete"
    assert r.json()["missing"] == ["result", "date"]
    r = await act(
        client,
        "mediator1",
        detail["id"],
        "record_confirmation",
        applied=True,
        court="昌宁县人民法院",
        result="confirmed",
        date="2026-12-28",
    )
    assert r.status_code == 200, r.text
    assert r.json()["agreement"]["confirmation"] == {
        "applied": True,
        "court": "昌宁县人民法院",
        "result": "confirmed",
        "date": "2026-12-28",
    }
    bad = await act(client, "mediator1", detail["id"], "record_confirmation", applied=True, result="won")
    assert bad.status_code == 400


async def test_the_day_20_reminder_tells_the_mediator_once(client):
    from backend.notify.confirmations import confirmation_reminders
    from tests.notify.support import inbox_items

    detail = await resolved_case(client)
    photo = await upload(client, "mediator1", jpeg())
    signed = datetime(2027, 3, 1, 10, 0, tzinfo=SHANGHAI)
    with clock.frozen(signed):
        assert (
            await act(client, "mediator1", detail["id"], "attach_signed_agreement", photos=[photo])
        ).status_code == 200
    with clock.frozen(signed + timedelta(days=19, hours=23)):
        assert await confirmation_reminders() == []
    with clock.frozen(signed + timedelta(days=20)):
        written = await confirmation_reminders()
        assert len(written) == 1
    with clock.frozen(signed + timedelta(days=21)):
        assert await confirmation_reminders() == []  # once
    [told] = [n for n in await inbox_items(client, "mediator1") if n["kind"] == "confirmation_due"]
    assert detail["number"] in told["title"] and "2027年03月31日" in told["body"]
    assert told["url"] == f"/cases/{detail['id']}"
    assert [n for n in await inbox_items(client, "leader1") if n["kind"] == "confirmation_due"] == []


async def test_no_reminder_once_the_parties_applied_or_after_the_30_days(client):
    from backend.notify.confirmations import confirmation_reminders

    applied = await resolved_case(client)
    late = await resolved_case(client)
    signed = datetime(2027, 4, 1, 10, 0, tzinfo=SHANGHAI)
    with clock.frozen(signed):
        for case in (applied, late):
            photo = await upload(client, "mediator1", jpeg(color=(len(case["id"]) % 255, 9, 9)))
            r = await act(client, "mediator1", case["id"], "attach_signed_agreement", photos=[photo])
            assert r.status_code == 200, r.text
        await act(
            client, "mediator1", applied["id"], "record_confirmation", applied=True, court="县法院",
            result="pending", date="2027-04-10",
        )  # fmt: skip
    with clock.frozen(signed + timedelta(days=31)):
        assert await confirmation_reminders() == []  # `late`: past the 30 days
    with clock.frozen(signed + timedelta(days=20)):
        reminded = await confirmation_reminders()
    rows = await Agreement.select(Agreement.case, Agreement.confirmation_reminded).run()
    assert len(reminded) == 1
    assert {str(r["case"]): r["confirmation_reminded"] for r in rows} == {
        applied["id"]: False,
        late["id"]: True,
    }


async def test_a_confidential_case_masks_third_parties_in_the_print_and_on_the_map(client):
    parties = [
        {"name": "张建华", "phone": "13812345678", "id_number": "11010519491231002X", "role": "applicant"},
        {"name": "李秀英", "phone": "0875-6123456", "role": "respondent"},
        {"name": "赵四海", "phone": "13900001111", "role": "witness"},
    ]
    detail = await resolved_case(client, parties=parties, title="邻里通道纠纷（涉隐私）")
    url = f"/api/cases/{detail['id']}/agreement"
    before = (await client.get(url, headers=await auth(client, "mediator1"))).text
    assert "赵四海" in before
    r = await act(
        client, "leader1", detail["id"], "set_confidential", confidential=True, reason="涉及个人隐私"
    )
    assert r.status_code == 200 and r.json()["confidential"] is True
    html = (await client.get(url, headers=await auth(client, "mediator1"))).text
    assert "赵四海" not in html and "13900001111" not in html and "赵**" in html
    assert "不公开" in html
    assert html.count("当事人（签名、按指印）：张建华") == 3  # the parties still sign by name
    markers = (await client.get("/api/map/cases", headers=await auth(client, "tianyuan"))).json()
    ix = markers["fields"].index("title")
    [row] = [m for m in markers["rows"] if m[0] == detail["id"]]
    assert row[ix] == "不公开案件"


async def test_agreements_from_before_the_form_still_resolve_and_print_as_they_were(client):
    legacy = {
        "facts": "堆放建材占道",
        "matters": "通道占用",
        "terms": "三日内清走建材",
        "performance": "三日内",
    }
    detail = await resolved_case(client, legacy)
    a = detail["agreement"]
    assert a["form"] == "" and a["terms"] == "三日内清走建材" and a["awaiting_signature"] is False
    assert a["status_label"] == ""  # no signed photo was given with it
    html = (
        await client.get(f"/api/cases/{detail['id']}/agreement", headers=await auth(client, "mediator1"))
    ).text
    assert "三日内清走建材" in html and "四、履行方式和期限" in html
    assert "关庙社区人民调解委员会（印章）" in html
    missing = await act(
        client, "mediator1", (await mediating_case(client))["id"], "resolve", agreement={"facts": "x"}
    )
    assert missing.json()["missing"] == ["matters", "terms", "performance"]


async def test_monthly_screening_lists_written_agreements_until_their_signed_paper_comes(client):
    written = await resolved_case(client)
    await resolved_case(client, ORAL)  # an oral agreement is never signed: not listed

    async def unsigned(username: str) -> list[str]:
        r = await client.get("/api/reports/monthly", headers=await auth(client, username))
        assert r.status_code == 200, r.text
        section = next(s for s in r.json()["sections"] if s["key"] == "awaiting_signature")
        return [row["number"] for row in section["rows"]]

    assert await unsigned("tianyuan") == [written["number"]]
    assert await unsigned("kasi") == []  # another township's report
    photo = await upload(client, "mediator1", jpeg())
    signed = await act(client, "mediator1", written["id"], "attach_signed_agreement", photos=[photo])
    assert signed.status_code == 200, signed.text
    assert await unsigned("tianyuan") == []


async def test_the_statistics_count_written_and_oral_agreements_and_the_amount(client):
    """The 司法局 table (issue 15 §4) reads the agreement's form and amount: a written agreement with
    1,200.50 yuan and an oral one, resolved this quarter in 田园镇."""
    today = clock.local_now()
    params = {"year": str(today.year), "quarter": str((today.month - 1) // 3 + 1)}

    async def tianyuan_row() -> dict:
        r = await client.get("/api/reports/statistics", params=params, headers=await auth(client, "tianyuan"))
        assert r.status_code == 200, r.text
        section = next(s for s in r.json()["sections"] if s["key"] == "by_township")
        return next(row for row in section["rows"] if row["township"] == "田园镇")

    before = await tianyuan_row()
    await resolved_case(client)
    await resolved_case(client, ORAL)
    after = await tianyuan_row()
    assert after["written"] - before["written"] == 1
    assert after["oral"] - before["oral"] == 1
    assert round(after["amount"] - before["amount"], 2) == 1200.5
