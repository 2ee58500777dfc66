"""Risk colours: set at intake by the county's rules (editable), re-assessed by a supervisor; red tells
the township's supervisors and the county office at once (inbox and push)."""

from __future__ import annotations

from backend.notify import push
from tests.factories import act, auth, make_case, tokens_for
from tests.notify.support import inbox_items, subscribe_device

PARTY = {"name": "赵大", "phone": None, "id_number": None, "role": "party"}


async def risk_of(client, case: dict, username: str = "tianyuan") -> tuple[str, str]:
    detail = (await client.get(f"/api/cases/{case['id']}", headers=await auth(client, username))).json()
    return detail["risk"], detail["risk_reason"]


async def test_the_default_rules_colour_a_new_case(client):
    plain = await make_case(client, parties=[])
    assert await risk_of(client, plain) == ("green", "")
    # Each of another category, so the duplicate check does not link them (that is the repeat rule).
    assert (await make_case(client, level="hard", category="relationship", parties=[]))["risk"] == "yellow"
    big = await make_case(client, level="big", category="agriculture", parties=[])
    assert (big["risk"], big["risk_reason"]) == ("red", "大事")
    threat = await make_case(
        client, category="labour", description="对方扬言要去县里上访，还威胁要打人。", parties=[]
    )
    assert (threat["risk"], threat["risk_reason"]) == ("red", "含“上访”“威胁”")
    crowd = await make_case(
        client, category="damages", parties=[{**PARTY, "name": f"村民{i}"} for i in range(5)]
    )
    assert (crowd["risk"], crowd["risk_reason"]) == ("yellow", "涉及5人")
    # The same parties again (linked by the duplicate check): a repeated dispute.
    first = await make_case(client, title="宅基地纠纷", category="homestead")
    assert first["risk"] == "green"
    again = await make_case(client, title="宅基地纠纷又起", category="homestead")
    assert (again["risk"], again["risk_reason"]) == ("yellow", "重复纠纷")


async def test_the_county_edits_the_rules(client):
    county = await auth(client, "county")
    rules = {
        "rules": [
            {"kind": "category", "categories": ["land_compensation"], "risk": "yellow"},
            {"kind": "keywords", "words": [" 讨薪 ", "讨薪"], "risk": "red"},
        ]
    }
    saved = await client.put("/api/risk-rules", json=rules, headers=county)
    assert saved.status_code == 200, saved.text
    assert (
        saved.json()["rules"][1]["words"] == ["讨薪"]
        and saved.json()["updated_by"] == (await tokens_for(client, "county"))["user"]["display_name"]
    )
    got = await client.get("/api/risk-rules", headers=await auth(client, "mediator1"))
    assert got.json()["rules"] == saved.json()["rules"]
    assert (await make_case(client, level="big", parties=[]))["risk"] == "green"  # no longer a rule
    land = await make_case(client, category="land_compensation", parties=[])
    assert (land["risk"], land["risk_reason"]) == ("yellow", "重点类别")
    wages = await make_case(client, category="land_compensation", title="工地讨薪", parties=[])
    assert (wages["risk"], wages["risk_reason"]) == ("red", "重点类别；含“讨薪”")

    nothing = await client.put("/api/risk-rules", json={"rules": []}, headers=county)
    assert nothing.status_code == 200 and nothing.json()["rules"] == []
    assert (await make_case(client, level="big", description="上访", parties=[]))["risk"] == "green"


async def test_bad_rules_are_refused_and_nothing_changes(client):
    county = await auth(client, "county")
    before = (await client.get("/api/risk-rules", headers=county)).json()
    cases = [
        (
            {"rules": [{"kind": "category", "categories": ["no_such"], "risk": "red"}]},
            "risk.unknown_category",
        ),
        ({"rules": [{"kind": "keywords", "words": ["\u200b "], "risk": "red"}]}, "risk.blank_word"),
        ({"rules": [{"kind": "keywords", "words": ["上\x00访"], "risk": "red"}]}, "text.control_characters"),
        ({"rules": [{"kind": "parties", "at_least": 10**30, "risk": "red"}]}, "request.number_out_of_range"),
        ({"rules": [{"kind": "parties", "at_least": 5, "risk": "green"}]}, "request.invalid"),
        ({"rules": [{"kind": "colour", "risk": "red"}]}, "request.invalid"),
    ]
    for body, code in cases:
        response = await client.put("/api/risk-rules", json=body, headers=county)
        assert (response.status_code, response.json()["code"]) == (400, code), body
    assert (await client.get("/api/risk-rules", headers=county)).json() == before
    township = await client.put("/api/risk-rules", json={"rules": []}, headers=await auth(client, "tianyuan"))
    assert (township.status_code, township.json()["code"]) == (403, "auth.forbidden")


async def test_red_tells_the_township_and_the_county_at_once(client, push_service, settings):
    _, device = await subscribe_device(client, push_service, "tianyuan")
    big = await make_case(client, "mediator1", level="big", parties=[])
    for who in ("tianyuan", "county"):
        [note] = await inbox_items(client, who)
        assert (note["kind"], note["case_id"], note["urgency"]) == ("case_risk_red", big["id"], "high")
        assert "大事" in note["body"]
    assert await inbox_items(client, "kasi") == []
    await push.deliver_due(settings)
    [sent] = push_service.for_device(device)
    assert sent.headers["urgency"] == "high" and sent.payload["title"].startswith("红色风险：")


async def test_a_supervisor_reassesses_the_risk(client):
    case = await make_case(client, "mediator1", parties=[])
    raised = await act(client, "tianyuan", case["id"], "set_risk", risk="red", reason="当事人扬言上访")
    assert raised.status_code == 200, raised.text
    assert await risk_of(client, case) == ("red", "当事人扬言上访")
    # The county office is told; the supervisor who raised it is not told of their own act.
    assert [n["kind"] for n in await inbox_items(client, "county")] == ["case_risk_red"]
    assert await inbox_items(client, "tianyuan") == []
    # Still red with a new reason: nobody is told twice.
    await act(client, "county", case["id"], "set_risk", risk="red", reason="已升级处置")
    assert len(await inbox_items(client, "tianyuan")) == 0
    lowered = await act(client, "county", case["id"], "set_risk", risk="green", reason="双方已和解")
    assert lowered.status_code == 200
    detail = (await client.get(f"/api/cases/{case['id']}", headers=await auth(client, "tianyuan"))).json()
    steps = [(e["action"], e["data"].get("risk")) for e in detail["events"] if e["action"] == "set_risk"]
    assert steps == [("set_risk", "red"), ("set_risk", "red"), ("set_risk", "green")]
    assert detail["risk"] == "green"

    mediator = await act(client, "mediator1", case["id"], "set_risk", risk="red", reason="x")
    assert (mediator.status_code, mediator.json()["code"]) == (403, "auth.forbidden")
    kasi = await act(client, "kasi", case["id"], "set_risk", risk="red", reason="x")
    assert (kasi.status_code, kasi.json()["code"]) == (404, "not_found")
    for body in ({"risk": "purple", "reason": "x"}, {"risk": "red", "reason": ""}, {"risk": "red"}):
        bad = await act(client, "tianyuan", case["id"], "set_risk", **body)
        assert bad.status_code == 400, body
