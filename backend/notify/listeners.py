"""Case-change listeners of the notify domain (registered by backend.wiring.connect): a case assigned
to you, a case escalated to your level, a conflict to clear, a case in your charge (包案) closed or
failed. They run inside the change's transaction,
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
    elif change.action == "assign_leader":
        await _leader_assigned(change)
    elif change.action in ("close", "fail"):
        await _to_leader(change)
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


async def _leader_assigned(change: CaseChange) -> None:
    """包案: the new leader is told it is in charge; the one replaced, that it no longer is."""
    reason = str(change.data.get("reason") or "")
    new = await recipients.active_users([change.data.get("leader_id")])
    await notify(
        _without_actor(new, change),
        Message(
            kind="case_leader_assigned",
            title=f"包案通知：{_label(change)}"[:100],
            body=f"您已被确定为该案件的包案领导，请关注化解进展。{reason}"[:1000],
            url=_case_url(change),
            key=f"case:{change.case_id}:leader:{change.case['version']}",
            case_id=change.case_id,
            urgency="high",
        ),
    )
    previous = await recipients.active_users([change.data.get("previous")])
    await notify(
        _without_actor(previous, change),
        Message(
            kind="case_leader_released",
            title=f"包案变更：{_label(change)}"[:100],
            body=f"您不再担任该案件的包案领导。{reason}"[:1000],
            url=_case_url(change),
            key=f"case:{change.case_id}:leader_released:{change.case['version']}",
            case_id=change.case_id,
        ),
    )


async def _to_leader(change: CaseChange) -> None:
    """A case in a leader's charge closed (办结) or failed (调解未成): the leader hears of it."""
    failed = change.action == "fail"
    body = (
        f"调解未成：{change.data.get('reason', '')}，等待乡镇综治中心处理（移交或重新指派）。"
        if failed
        else "案件已办结，将按期回访。"
    )
    await notify(
        _without_actor(await recipients.case_leader(change.case), change),
        Message(
            kind="case_failed" if failed else "case_closed",
            title=f"{'调解未成' if failed else '已办结'}：{_label(change)}"[:100],
            body=body[:1000],
            url=_case_url(change),
            key=f"case:{change.case_id}:{change.action}:{change.case['version']}",
            case_id=change.case_id,
            urgency="high" if failed else "normal",
        ),
    )


people.on_device_revoked(push.remove_for_device)
