"""Case-change listeners of the notify domain (registered by backend.wiring.connect): a case assigned
to you, a case escalated to your level, a conflict to clear. They run inside the change's transaction,
so a notification exists exactly when its change does. Also: a device that signs out or is revoked
loses its push subscription."""

from __future__ import annotations

from backend.cases.hooks import CaseChange, subscribe
from backend.notify import push, recipients
from backend.notify.service import Message, notify
from backend.people import service as people

LEVEL_NAMES = {"small": "小事", "hard": "难事", "big": "大事"}
OWNER_NAMES = {"team": "调解队", "township": "乡镇", "county": "县"}


def _case_url(change: CaseChange) -> str:
    return f"/cases/{change.case_id}"


def _label(change: CaseChange) -> str:
    return f"{change.case['number']} {change.case['title']}"


def _without_actor(users: list[int], change: CaseChange) -> list[int]:
    actor = change.actor.id if change.actor else None
    return [u for u in users if u != actor]


@subscribe
async def on_case_change(change: CaseChange) -> None:
    if change.action == "assign":
        await _assigned(change)
    elif change.action == "escalate":
        await _escalated(change)
    if change.after.get("conflict") is True:  # newly flagged (an already flagged case is not told again)
        await _conflict(change)


async def _assigned(change: CaseChange) -> None:
    mediator_id = change.data.get("mediator_id")
    team_id = change.data.get("team_id")
    if mediator_id:
        users = await recipients.active_users([mediator_id])
        body = "该案件已指派给您，请及时调解。"
    else:
        users = await recipients.team_leaders(team_id)
        body = "该案件已指派给贵队，请安排调解员。"
    await notify(
        _without_actor(users, change),
        Message(
            kind="case_assigned",
            title=f"新指派案件：{_label(change)}"[:100],
            body=body,
            url=_case_url(change),
            key=f"case:{change.case_id}:assign:{change.case['version']}",
            case_id=change.case_id,
        ),
    )


async def _escalated(change: CaseChange) -> None:
    owner = change.case["owner_level"]
    users = await (
        recipients.county_admins()
        if owner == "county"
        else recipients.township_supervisors(change.case["township_code"])
    )
    level = LEVEL_NAMES.get(change.case["level"], change.case["level"])
    reason = str(change.data.get("reason") or "")
    await notify(
        _without_actor(users, change),
        Message(
            kind="case_escalated",
            title=f"案件上报：{_label(change)}"[:100],
            body=f"已上报至{OWNER_NAMES.get(owner, owner)}（{level}）。{reason}"[:1000],
            url=_case_url(change),
            key=f"case:{change.case_id}:escalate:{change.case['version']}",
            case_id=change.case_id,
        ),
    )


async def _conflict(change: CaseChange) -> None:
    users = await recipients.township_supervisors(change.case["township_code"])
    await notify(
        users,
        Message(
            kind="case_conflict",
            title=f"编辑冲突待处理：{_label(change)}"[:100],
            body="离线修改与服务器上的修改重叠，已按字段取最后修改，请核对后清除冲突标记。",
            url=_case_url(change),
            key=f"case:{change.case_id}:conflict:{change.case['version']}",
            case_id=change.case_id,
        ),
    )


people.on_device_revoked(push.remove_for_device)
