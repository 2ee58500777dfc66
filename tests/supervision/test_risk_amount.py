"""The risk rule on category and amount: 征地补偿 or 劳动仲裁 with more than a threshold in dispute (the
case's 涉及金额 at intake) is yellow or red; the county edits the threshold; bad amounts are refused.
An edit of what the rules read (the amount, category, title, description) raises the colour as the
intake would have, and never lowers it."""

from __future__ import annotations

from tests.factories import auth, case_body, make_case
from tests.notify.support import inbox_items
from tests.supervision.test_risk import risk_of
from tests.sync.helpers import push as sync_push
from tests.sync.helpers import update_op


async def test_the_default_rule_weighs_the_amount_of_land_and_labour_disputes(client):
    land = await make_case(client, category="land_compensation", amount_yuan=150_000.5, parties=[])
    assert (land["risk"], land["risk_reason"]) == ("yellow", "涉及金额超过100,000元")
    detail = (await client.get(f"/api/cases/{land['id']}", headers=await auth(client, "mediator1"))).json()
    assert detail["amount_yuan"] == 150_000.5
    # At the threshold, without an amount, or another category: no match (a second case of a category
    # nearby may be yellow as a repeated dispute, not for its amount).
    for body in (
        {"category": "labour", "amount_yuan": 100_000},
        {"category": "land_compensation"},
        {"category": "damages", "amount_yuan": 5_000_000},
    ):
        case = await make_case(client, parties=[], **body)
        assert "涉及金额" not in case["risk_reason"], body
    assert await risk_of(client, case) == ("green", "")  # the damages case: nothing at all


async def test_the_county_sets_categories_threshold_and_colour(client):
    county = await auth(client, "county")
    rules = {"rules": [{"kind": "amount", "categories": ["labour"], "over_yuan": 50_000, "risk": "red"}]}
    saved = await client.put("/api/risk-rules", json=rules, headers=county)
    assert saved.status_code == 200, saved.text
    assert saved.json()["rules"] == [{**rules["rules"][0], "over_yuan": 50_000.0}]
    wages = await make_case(client, category="labour", amount_yuan=50_000.01, parties=[])
    assert (wages["risk"], wages["risk_reason"]) == ("red", "涉及金额超过50,000元")
    # The default's 征地补偿 is no longer in the rules.
    assert (await make_case(client, category="land_compensation", amount_yuan=9e8, parties=[]))[
        "risk"
    ] == "green"


async def test_bad_thresholds_are_refused_and_nothing_changes(client):
    county = await auth(client, "county")
    before = (await client.get("/api/risk-rules", headers=county)).json()

    def rule(**fields):
        return {
            "rules": [
                {"kind": "amount", "categories": ["labour"], "over_yuan": 1000, "risk": "red", **fields}
            ]
        }

    for body, code in (
        (rule(over_yuan=0), "risk.invalid_amount"),
        (rule(over_yuan=-1), "risk.invalid_amount"),
        (rule(over_yuan=1e13), "risk.invalid_amount"),
        (rule(over_yuan="十万"), "request.invalid"),
        (rule(categories=[]), "request.invalid"),
        (rule(categories=["no_such"]), "risk.unknown_category"),
    ):
        response = await client.put("/api/risk-rules", json=body, headers=county)
        assert (response.status_code, response.json()["code"]) == (400, code), body
        assert response.json()["message"]  # in Chinese, for the console
    assert (await client.get("/api/risk-rules", headers=county)).json() == before
    township = await client.put("/api/risk-rules", json=rule(), headers=await auth(client, "tianyuan"))
    assert township.status_code == 403


async def test_a_bad_amount_at_intake_or_in_an_edit_is_refused(client):
    headers = await auth(client, "mediator1")
    for amount, code in (
        (-1, "case.invalid_amount"),
        (1e13, "case.invalid_amount"),
        ("五万", "request.invalid"),
    ):
        response = await client.post("/api/cases", json=case_body(amount_yuan=amount), headers=headers)
        assert (response.status_code, response.json()["code"]) == (400, code), amount
        if code == "case.invalid_amount":
            assert response.json()["message"] == "涉及金额应为 0 到 999999999999 元之间的数"
    case = await make_case(client, category="labour", parties=[])
    [bad] = await sync_push(client, headers, update_op(case["id"], 1, amount_yuan=-3))
    assert (bad["status"], bad["code"]) == ("rejected", "case.invalid_amount")
    [ok] = await sync_push(client, headers, update_op(case["id"], 1, amount_yuan=20_000.456))
    assert ok["status"] == "applied", ok
    detail = (await client.get(f"/api/cases/{case['id']}", headers=headers)).json()
    assert detail["amount_yuan"] == 20_000.46


async def test_an_amount_entered_later_raises_the_colour_as_at_intake(client):
    headers = await auth(client, "mediator1")
    land = await make_case(client, category="land_compensation", parties=[])
    assert land["risk"] == "green"
    [done] = await sync_push(client, headers, update_op(land["id"], 1, amount_yuan=180_000))
    assert done["status"] == "applied", done
    assert await risk_of(client, land) == ("yellow", "涉及金额超过100,000元")
    detail = (await client.get(f"/api/cases/{land['id']}", headers=headers)).json()
    [edit] = [e for e in detail["events"] if e["action"] == "update"]
    assert (edit["before"]["risk"], edit["after"]["risk"]) == ("green", "yellow")
    assert edit["data"]["risk_reason"] == "涉及金额超过100,000元"
    # An edit that no rule weighs leaves the colour and the event alone.
    [done] = await sync_push(client, headers, update_op(land["id"], 2, title="征地补偿款分配"))
    assert done["status"] == "applied", done
    assert await risk_of(client, land) == ("yellow", "涉及金额超过100,000元")


async def test_an_edit_never_lowers_a_colour(client):
    headers = await auth(client, "mediator1")
    land = await make_case(client, category="land_compensation", amount_yuan=500_000, parties=[])
    assert land["risk"] == "yellow"
    [done] = await sync_push(client, headers, update_op(land["id"], 1, amount_yuan=20_000))
    assert done["status"] == "applied", done
    # Lowering is the supervisor's judgement (set_risk), not the rules'.
    assert await risk_of(client, land) == ("yellow", "涉及金额超过100,000元")


async def test_a_threat_written_in_later_turns_the_case_red_and_tells_the_township(client):
    headers = await auth(client, "mediator1")
    case = await make_case(client, category="labour", parties=[])
    assert await inbox_items(client, "tianyuan") == []
    [done] = await sync_push(
        client, headers, update_op(case["id"], 1, description="欠薪未付，工人扬言明天去县里上访。")
    )
    assert done["status"] == "applied", done
    assert await risk_of(client, case) == ("red", "含“上访”")
    for who in ("tianyuan", "county"):
        [note] = await inbox_items(client, who)
        assert (note["kind"], note["case_id"], note["urgency"]) == ("case_risk_red", case["id"], "high")
    # Edited again while red: nobody is told twice.
    [done] = await sync_push(client, headers, update_op(case["id"], 2, title="拖欠工资（已报上访风险）"))
    assert done["status"] == "applied", done
    assert len(await inbox_items(client, "tianyuan")) == 1
