"""Names, phones and ID numbers: masked in lists and for roles that don't need them, full only for
those who work the case, and every full read in the audit log."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.factories import auth, bearer, login, make_case, make_user, tokens_for


async def test_lists_mask_personal_data(client):
    case = await make_case(client, "mediator1")
    items = (
        await client.get("/api/cases", params={"limit": 200}, headers=await auth(client, "tianyuan"))
    ).json()["items"]
    listed = next(c for c in items if c["id"] == case["id"])
    applicant = listed["parties"][0]
    assert applicant["name"] == "张**"
    assert applicant["phone"] == "138****5678"
    assert applicant["id_number"] == "110105********002X"
    assert listed["parties"][1]["phone"] == "087****3456"


async def test_a_list_shows_every_party_in_order_masked_and_a_case_without_parties_with_none(client):
    parties = [
        {"name": "王五", "role": "applicant"},  # no phone, no ID number
        {"name": "赵六", "phone": "13900001111", "role": "respondent"},
        {"name": "钱七", "id_number": "11010519491231002X", "role": "party"},
    ]
    three = await make_case(client, "mediator1", parties=parties)
    none = await make_case(client, "mediator1", parties=[])
    county = await auth(client, "county")
    for _ in range(2):  # the second time from the masked forms kept (party_data.masked)
        items = (await client.get("/api/cases", params={"limit": 200}, headers=county)).json()["items"]
        listed = {c["id"]: c["parties"] for c in items}
        assert listed[three["id"]] == [
            {"name": "王*", "phone": None, "id_number": None, "role": "applicant"},
            {"name": "赵*", "phone": "139****1111", "id_number": None, "role": "respondent"},
            {"name": "钱*", "phone": None, "id_number": "110105********002X", "role": "party"},
        ]
        assert listed[none["id"]] == []


async def test_detail_is_full_for_the_team_township_and_county_and_each_read_is_audited(client):
    case = await make_case(client, "mediator1")
    for username in ("mediator1", "leader1", "tianyuan", "county"):
        detail = (await client.get(f"/api/cases/{case['id']}", headers=await auth(client, username))).json()
        assert detail["personal_data"] == "full"
        assert detail["parties"][0]["id_number"] == "11010519491231002X"
    audit = (
        await client.get("/api/audit", params={"case": case["id"]}, headers=await auth(client, "county"))
    ).json()
    reads = [a for a in audit if a["action"] == "case.read_personal"]
    assert {a["username"] for a in reads} == {"mediator1", "leader1", "tianyuan", "county"}
    assert all("id_number" in a["detail"]["fields"] for a in reads)
    # The audit log names what was read, never the values.
    assert "11010519491231002X" not in str(audit) and "13812345678" not in str(audit)


async def test_a_grid_worker_of_the_village_sees_the_case_masked(client):
    worker = await make_user(
        client, await tokens_for(client, "county"), role="grid_worker", scope_code="530524101001"
    )
    tokens = await login(client, worker["username"], worker["password"])
    case = await make_case(client, "mediator1")
    detail = (await client.get(f"/api/cases/{case['id']}", headers=bearer(tokens))).json()
    assert detail["personal_data"] == "masked"
    assert detail["parties"][0]["phone"] == "138****5678"
    printed = await client.get(f"/api/cases/{case['id']}/agreement", headers=bearer(tokens))
    assert printed.status_code == 403


async def test_only_the_county_reads_the_audit_log(client):
    for username in ("tianyuan", "mediator1"):
        assert (await client.get("/api/audit", headers=await auth(client, username))).status_code == 403


async def test_audit_filters_by_user_and_time(client):
    await make_case(client, "mediator2", point=(99.392591, 24.790793))
    me = (await client.get("/api/me", headers=await auth(client, "mediator2"))).json()
    rows = (
        await client.get("/api/audit", params={"user": me["id"]}, headers=await auth(client, "county"))
    ).json()
    assert rows and all(r["user_id"] == me["id"] for r in rows)
    assert any(r["action"] == "case.create" for r in rows)
    future = (
        await client.get(
            "/api/audit", params={"since": "2999-01-01T00:00:00Z"}, headers=await auth(client, "county")
        )
    ).json()
    assert future == []


def test_masking_never_shows_most_of_a_short_id_number():
    from backend.cases.privacy import mask_id_number

    assert mask_id_number("11010519491231002X") == "110105********002X"
    assert mask_id_number("5305241234") == "**********"
    assert mask_id_number(None) is None


# --- at rest: encrypted phone and ID numbers (个人信息保护法 art. 51) ---------------------------------

PHONE, ID_NUMBER, LANDLINE = "13812345678", "11010519491231002X", "0875-6123456"


async def stored_parties(case_id: str) -> list[dict]:
    """The case's party rows as the database holds them (raw SQL, nothing decrypted)."""
    from backend.cases.tables import Party

    return await Party.raw(
        'SELECT * FROM case_party WHERE "case" = {} ORDER BY position', uuid.UUID(case_id)
    ).run()


def isolated_keyring(monkeypatch, tmp_path: Path):
    """A copy of the session's keys that this test may rotate or break: the app reads through it."""
    from backend.core import crypto
    from backend.settings import get_settings

    secrets = get_settings().secrets_dir
    copy = tmp_path / "secrets"
    shutil.copytree(secrets, copy)
    ring = crypto.Keyring(copy)
    monkeypatch.setitem(crypto._keyrings, secrets, ring)
    return ring


async def test_the_database_holds_no_phone_or_id_number_in_clear_and_the_owners_read_them(client):
    case = await make_case(client, "mediator1")
    again = await make_case(client, "mediator1", title="同一当事人又来了")
    rows = await stored_parties(case["id"])
    assert "phone" not in rows[0] and "id_number" not in rows[0]
    text = str(rows)
    # The birth date in full (8 digits), not "1949": four digits turn up in a random hash now and then.
    for clear in (PHONE, ID_NUMBER, LANDLINE, "6123456", "19491231"):
        assert clear not in text
    assert rows[0]["key_id"] is not None and rows[0]["phone_cipher"] and rows[0]["id_number_cipher"]
    assert (rows[1]["id_number_cipher"], rows[1]["id_number_hash"]) == (None, None)
    # The same number sealed twice: a different ciphertext (a fresh nonce), the same hash (found by it).
    other = (await stored_parties(again["id"]))[0]
    assert other["phone_cipher"] != rows[0]["phone_cipher"] and other["phone_hash"] == rows[0]["phone_hash"]
    detail = (await client.get(f"/api/cases/{case['id']}", headers=await auth(client, "mediator1"))).json()
    assert [(p["phone"], p["id_number"]) for p in detail["parties"]] == [(PHONE, ID_NUMBER), (LANDLINE, None)]


async def test_same_id_number_is_linked_as_a_duplicate(client):
    first = await make_case(
        client, "mediator1", category="contract_debt", parties=[{"name": "罗光荣", "id_number": ID_NUMBER}]
    )
    second = await make_case(
        client,
        "mediator1",
        category="damages",
        point=(99.60, 24.83),
        parties=[{"name": "罗光荣", "id_number": ID_NUMBER.lower(), "phone": "13900001111"}],
    )
    assert {d["case_id"]: d["reason"] for d in second["duplicates"]}[first["id"]] == "same_party"


async def test_a_landline_is_found_with_or_without_its_dash(client):
    case = await make_case(client, "mediator1")
    headers = await auth(client, "mediator1")
    for q in (LANDLINE, "08756123456"):
        items = (await client.get("/api/cases", params={"q": q}, headers=headers)).json()["items"]
        assert [c["id"] for c in items] == [case["id"]], q


def serve(data_dir: Path, database_url: str) -> subprocess.CompletedProcess:
    from tests.ops.test_backup import cli

    return cli("serve", "--port", "1", data_dir=data_dir, database_url=database_url)


@pytest.mark.server
async def test_a_missing_or_wrong_key_stops_the_server_with_a_clear_message(client, database_url, tmp_path):
    from backend.settings import get_settings

    await make_case(client, "mediator1")
    # Another data directory (FENGQIAO_DATA_DIR wrong, or secrets/ lost): no key at all.
    lost = serve(tmp_path / "elsewhere", database_url)
    assert lost.returncode == 2, lost.stderr
    assert "个人信息密钥 pii-1.key 不在" in lost.stderr and "Traceback" not in lost.stderr
    assert not (tmp_path / "elsewhere" / "secrets" / "pii-1.key").exists()  # not made anew
    # The key file replaced by another key.
    other = tmp_path / "other"
    shutil.copytree(get_settings().secrets_dir, other / "secrets")
    (other / "secrets" / "pii-1.key").write_text(base64.b64encode(os.urandom(32)).decode())
    wrong = serve(other, database_url)
    assert (
        wrong.returncode == 2 and "与数据库里的数据不符" in wrong.stderr and "Traceback" not in wrong.stderr
    )
    # The hash key replaced: decrypting works, but searches would silently find nothing.
    shutil.copy(get_settings().secrets_dir / "pii-1.key", other / "secrets" / "pii-1.key")
    (other / "secrets" / "pii-hash.key").write_text(base64.b64encode(os.urandom(32)).decode())
    wrong_hash = serve(other, database_url)
    assert wrong_hash.returncode == 2 and "哈希密钥" in wrong_hash.stderr


async def test_rotation_reencrypts_everything_and_the_old_key_can_go(client, monkeypatch, tmp_path):
    from backend.cases import party_data

    ring = isolated_keyring(monkeypatch, tmp_path)
    old = ring.current_id()
    case = await make_case(client, "mediator1")
    before = await stored_parties(case["id"])
    # Mid-rotation: a new key is the newest, rows under the old one still read.
    new = ring.add_key()
    headers = await auth(client, "mediator1")
    detail = (await client.get(f"/api/cases/{case['id']}", headers=headers)).json()
    assert detail["parties"][0]["phone"] == PHONE
    newer = await make_case(client, "mediator1")
    assert {r["key_id"] for r in await stored_parties(newer["id"])} == {new}

    result = await party_data.rotate(ring)
    assert result["removed"] == list(range(1, new + 1)) and result["kept"] == []
    assert not (ring.directory / f"pii-{old}.key").exists()
    after = await stored_parties(case["id"])
    assert after[0]["key_id"] == result["key_id"] and after[0]["phone_cipher"] != before[0]["phone_cipher"]
    assert after[0]["phone_hash"] == before[0]["phone_hash"]
    detail = (await client.get(f"/api/cases/{case['id']}", headers=headers)).json()
    assert [(p["phone"], p["id_number"]) for p in detail["parties"]] == [(PHONE, ID_NUMBER), (LANDLINE, None)]
    found = (await client.get("/api/cases", params={"q": PHONE}, headers=headers)).json()["items"]
    assert {c["id"] for c in found} == {case["id"], newer["id"]}
    await party_data.check_keys(ring)


@pytest.mark.server
async def test_rotation_from_the_command_line(client, database_url, tmp_path):
    from backend.settings import get_settings
    from tests.ops.test_backup import cli

    case = await make_case(client, "mediator1")
    data_dir = tmp_path / "deployment"
    shutil.copytree(get_settings().secrets_dir, data_dir / "secrets")
    done = cli("keys", "rotate", data_dir=data_dir, database_url=database_url)
    assert done.returncode == 0, done.stderr
    rows = await stored_parties(case["id"])
    new = rows[0]["key_id"]
    assert f"已用新密钥 pii-{new}.key 重新加密" in done.stdout and "已删除旧密钥" in done.stdout
    assert sorted(p.name for p in (data_dir / "secrets").glob("pii-*.key")) == sorted(
        [f"pii-{new}.key", "pii-hash.key"]
    )
    checked = cli("keys", "check", data_dir=data_dir, database_url=database_url)
    assert checked.returncode == 0 and "密钥正常" in checked.stdout


@pytest.mark.server
async def test_retention_anonymises_only_the_old_archived_cases(client, database_url):
    from backend.cases.tables import Case
    from backend.settings import get_settings
    from tests.ops.test_backup import cli

    long_ago = datetime(2019, 3, 1, tzinfo=UTC)
    old, recent, open_old = [await make_case(client, "mediator1") for _ in range(3)]
    for case, state, closed in (
        (old, "archived", long_ago),
        (recent, "archived", None),
        (open_old, "closed", long_ago),
    ):
        changes = {Case.state: state}
        if closed:
            changes[Case.closed_at] = closed
        await Case.update(changes).where(Case.id == uuid.UUID(case["id"])).run()
    stored = {c["id"]: await stored_parties(c["id"]) for c in (old, recent, open_old)}

    dry = cli("retention", "run", "--dry-run", data_dir=get_settings().data_dir, database_url=database_url)
    assert dry.returncode == 0, dry.stderr
    assert "将匿名化 1 件" in dry.stdout and "未做任何修改" in dry.stdout
    assert {c["id"]: await stored_parties(c["id"]) for c in (old, recent, open_old)} == stored

    done = cli("retention", "run", data_dir=get_settings().data_dir, database_url=database_url)
    assert done.returncode == 0 and "已匿名化 1 件" in done.stdout, done.stderr
    headers = await auth(client, "county")
    detail = (await client.get(f"/api/cases/{old['id']}", headers=headers)).json()
    assert [(p["name"], p["phone"], p["id_number"], p["role"]) for p in detail["parties"]] == [
        ("当事人甲", None, None, "applicant"),
        ("当事人乙", None, None, "respondent"),
    ]
    assert (detail["title"], detail["description"]) == ("（已匿名化）", "")
    assert detail["events"][-1]["action"] == "anonymise"
    assert all(
        r[k] is None
        for r in await stored_parties(old["id"])
        for k in ("phone_hash", "phone_cipher", "key_id")
    )
    for kept in (recent, open_old):
        assert await stored_parties(kept["id"]) == stored[kept["id"]]
    # Nothing left to do: a second run changes nothing.
    again = cli("retention", "run", data_dir=get_settings().data_dir, database_url=database_url)
    assert "已匿名化 0 件" in again.stdout
    audit = (await client.get("/api/audit", params={"case": old["id"]}, headers=headers)).json()
    assert [a["detail"] for a in audit if a["action"] == "case.anonymise"] == [{"parties": 2, "years": 5}]
