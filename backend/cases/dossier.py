"""The case file (卷宗) of a closed or archived case: one printable A4 document the county keeps and the
以案定补 subsidy is paid on. Cover, 纠纷受理登记表, 调解记录, the agreement, 回访记录, photo index and the
event log, in that order. Printing it is a full read of the parties' data (audited every time); a
reader who may not see them gets them masked, like everywhere else.

The return visits belong to the visits domain (it depends on cases): the route passes them in.
"""

from __future__ import annotations

import base64
import hashlib
import re
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from backend.cases import agreement as agreements
from backend.cases import fields, party_data, privacy
from backend.cases import supervision as orders
from backend.cases.categories import category_names
from backend.cases.scope import get_case_row
from backend.cases.tables import Agreement, CaseEvent, CasePhoto, Party
from backend.cases.views import event_view, names_by_id
from backend.core import clock
from backend.core.errors import AppError
from backend.core.identity import CurrentUser
from backend.db import read_transaction
from backend.grids import service as grids
from backend.media import imaging, storage
from backend.people.service import division_names
from backend.people.tables import Team, User
from backend.settings import get_settings

FILED_STATES = ("closed", "archived")
PARTY_ROLES = {"applicant": "申请人", "respondent": "被申请人", "party": "当事人", "witness": "证人"}
LEVELS = {"small": "小事（村级调解）", "hard": "难事（乡镇联调）", "big": "大事（法律途径）"}
OWNER_LEVELS = {"team": "村（社区）调解队", "township": "乡镇", "county": "县"}
PURPOSES = {"scene": "现场", "note": "调解", "agreement": "协议", "visit": "回访"}
ACTIONS = {
    "create": "登记",
    "accept": "受理",
    "reject": "不予受理",
    "refer": "移交",
    "assign": "指派",
    "escalate": "上报",
    "note": "调解记录",
    "update": "修改",
    "resolve": "达成协议",
    "fail": "调解未成",
    "close": "办结",
    "reopen": "重新调解",
    "correct_location": "更正位置",
    "extend_deadline": "延长期限",
    "clear_conflict": "处理冲突",
    "merge": "合并",
    "merged_in": "并入",
    "dismiss_duplicate": "排除重复",
    "archive": "归档",
    "flag": "标记待核",
    "visit": "回访",
    "attach_signed_agreement": "上传签字协议",
    "record_confirmation": "司法确认",
    "set_confidential": "不公开设置",
    "supervise": "督办",
    "acknowledge_supervision": "签收督办",
    "report_supervision": "回复督办",
    "accept_supervision": "验收督办",
    "return_supervision": "退回督办",
    "set_risk": "风险研判",
}
# A 督办 order's steps as the file names them, and what the step's text is called.
SUPERVISION_STEPS = {
    "supervise": "下达督办",
    "acknowledge_supervision": "签收",
    "report_supervision": "报告办理情况",
    "accept_supervision": "验收通过",
    "return_supervision": "退回重办",
}

_templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=select_autoescape(["html", "j2"])
)


_STYLE = re.compile(r"<style>(.*?)</style>", re.DOTALL)


# The printable pages of a case (their stylesheets are fixed text, no template variables in them).
PRINT_TEMPLATES = ("dossier.html.j2", "agreement.html.j2", "agreement_body.html.j2", "oral_register.html.j2")


def print_style_hashes() -> list[str]:
    """CSP sources ('sha256-…') of the printable pages' stylesheets (the case file, the agreement and the
    oral register): opened from the app as blob: pages, they run under the app's policy, which allows
    these inline stylesheets by their hashes and nothing else inline (core/headers.py)."""
    templates = Path(__file__).parent / "templates"
    return [
        f"'sha256-{base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()}'"
        for name in PRINT_TEMPLATES
        for css in _STYLE.findall((templates / name).read_text(encoding="utf-8"))
    ]


class DossierNotReady(AppError):
    status_code = 409
    code = "case.dossier_not_closed"
    message = "案件办结或归档后才能打印卷宗"
    message_en = "A case file is printed once the case is closed or archived"


def _local(at: Any, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return at.astimezone(clock.LOCAL_TZ).strftime(fmt) if at else ""


def _local_iso(value: str | None) -> str:
    """A visit view's instant (ISO text, UTC) as local wall time."""
    if not value:
        return ""
    return _local(datetime.fromisoformat(value.replace("Z", "+00:00")))


def agreement_section(context: dict[str, Any] | None) -> Markup:
    """The agreement part of the file: one copy as the agreement print renders it (written, oral, or
    the free text of cases resolved before the structured agreement), or a line saying there is none."""
    if context is None:
        return Markup('<p class="empty">本案无调解协议记录。</p>')
    return Markup(agreements.render_agreement_html(context, standalone=False))


def _thumbnail(sha256: str) -> str | None:
    """The photo's thumbnail inline (a data: URL), so the page prints and saves as PDF on its own:
    the browser that prints it has no bearer token for /api/media."""
    path = storage.media_path(get_settings().media_dir, sha256, "thumb", imaging.DERIVATIVE_EXT)
    try:
        data = path.read_bytes()
    except OSError:
        return None
    return f"data:{imaging.DERIVATIVE_MIME};base64,{base64.b64encode(data).decode()}"


async def _supervision_orders(case_id: uuid.UUID) -> list[dict[str, Any]]:
    """The case's 督办 orders, oldest first, each with its steps (who and when: issued, acknowledged,
    reported, accepted, sent back) from the case's events, as the file prints them."""
    rows = (
        await orders.SupervisionOrder.select(
            *orders.SupervisionOrder.all_columns(), orders.SupervisionOrder.issued_by.display_name
        )
        .where(orders.SupervisionOrder.case == case_id)
        .order_by(orders.SupervisionOrder.issued_at)
        .run()
    )
    steps = await orders.order_steps([case_id]) if rows else {}
    now = clock.now()
    return [
        {
            "issued_by": r["issued_by.display_name"] or "",
            "issued_at": _local(r["issued_at"]),
            "instruction": r["instruction"],
            "due_date": r["due_date"].isoformat(),
            "status": orders.STATUS_NAMES.get(r["status"], r["status"]),
            "red": orders.RED_NAMES.get(orders.red_reason(r, now) or "", ""),
            "steps": [
                {
                    "at": _local(s["at"]),
                    "step": SUPERVISION_STEPS[s["action"]],
                    "actor": s["actor"] or "系统",
                    "text": s["data"].get("text") or s["data"].get("reason") or "",
                }
                for s in steps.get(str(r["id"]), [])
            ],
        }
        for r in rows
    ]


VisitLoader = Callable[[uuid.UUID], Awaitable[list[dict[str, Any]]]]


async def dossier_html(user: CurrentUser, case_id: uuid.UUID | str, load_visits: VisitLoader) -> str:
    """The printable case file (404 outside the user's scope, 409 before closing). `load_visits` gives
    the case's return visits (the visits domain's views), asked once the case is known visible."""
    async with read_transaction():
        row = await get_case_row(user, case_id)
        if row["state"] not in FILED_STATES:
            raise DossierNotReady(details={"state": row["state"]})
        full = privacy.may_see_personal_data(user, row)
        parties = agreements.mask_third_parties(
            party_data.opened(
                await Party.select().where(Party.case == row["id"]).order_by(Party.position).run()
            ),
            row["confidential"],
        )
        events = [
            event_view(e)
            for e in await CaseEvent.select(*CaseEvent.all_columns(), CaseEvent.actor.display_name)
            .where(CaseEvent.case == row["id"])
            .order_by(CaseEvent.id)
            .run()
        ]
        agreement = (
            await Agreement.select(*Agreement.all_columns(), Agreement.made_by.display_name)
            .where(Agreement.case == row["id"])
            .first()
            .run()
        )
        photos = (
            await CasePhoto.select().where(CasePhoto.case == row["id"]).order_by(CasePhoto.position).run()
        )
        names = await division_names({c for c in (row["township_code"], row["village_code"]) if c})
        grid_names = await grids.region_names({row["grid_code"]} if row["grid_code"] else set())
        categories = await category_names()
        teams = await names_by_id(Team, Team.name, {row["owner_team"]})
        users = await names_by_id(User, User.display_name, {row["mediator"], row["leader"]})
        visits = await load_visits(row["id"])
        supervision = await _supervision_orders(row["id"])
    township = names.get(row["township_code"] or "", "")
    village = names.get(row["village_code"] or "", "")
    by_action: dict[str, list[Any]] = {}
    for e in events:
        by_action.setdefault(e.action, []).append(e)
    # The mediators: the case's mediator, and whoever recorded a session or the agreement.
    recorders = [e.actor for e in events if e.action in ("note", "resolve")]
    mediators = list(dict.fromkeys(n for n in [users.get(row["mediator"]), *recorders] if n))
    notes = [
        {
            "at": _local(e.at),
            "place": e.data.get("place") or f"{township}{village}",
            "participants": "、".join(e.data.get("participants") or []),
            "recorder": e.actor or "",
            "text": e.data.get("text", ""),
        }
        for e in by_action.get("note", [])
    ]
    # As this reader may see them: in full for those who work the case, masked for the others.
    shown = [
        {
            **p,
            "name": p["name"] if full else privacy.mask_name(p["name"]),
            "phone": (p["phone"] if full else privacy.mask_phone(p["phone"])) or "",
            "id_number": (p["id_number"] if full else privacy.mask_id_number(p["id_number"])) or "",
        }
        for p in parties
    ]
    party_rows = [{**p, "role": PARTY_ROLES.get(p["role"], p["role"])} for p in shown]
    visit_photos = [(sha, "visit") for v in visits for sha in v.get("photos") or []]
    photo_rows = [
        {"n": i, "sha256": sha, "purpose": PURPOSES.get(purpose, purpose), "src": _thumbnail(sha)}
        for i, (sha, purpose) in enumerate(
            dict.fromkeys([*((p["sha256"], p["purpose"]) for p in photos), *visit_photos]), 1
        )
    ]
    accepted = by_action.get("accept", [])
    archived = by_action.get("archive", [])
    category = categories.get(row["category"], row["category"])
    html = _templates.get_template("dossier.html.j2").render(
        case=row,
        category=category,
        township=township,
        village=village,
        grid=grid_names.get(row["grid_code"] or "", ""),
        team=teams.get(row["owner_team"], ""),
        mediators="、".join(mediators),
        leader=users.get(row["leader"]) if row["leader"] else None,
        committee=agreements.committee_name(village, township),
        parties=party_rows,
        masked=not full,
        source=fields.SOURCES.get(row["source"] or "", "未登记"),
        referred_by=fields.REFERRERS.get(row["referred_by"] or "", ""),
        group_dispute=(row["people_involved"] or 0) >= fields.GROUP_DISPUTE,
        level=LEVELS.get(row["level"], row["level"]),
        owner_level=OWNER_LEVELS.get(row["owner_level"], row["owner_level"]),
        accepted_by=accepted[0].actor if accepted else "",
        archived_at=_local(archived[-1].at, "%Y年%m月%d日") if archived else "",
        notes=notes,
        agreement=agreement_section(
            agreements.context(
                row,
                agreement,
                shown,
                township,
                village,
                category,
                teams.get(row["owner_team"], ""),
            )
            if agreement
            else None
        ),
        visits=[{**v, "done": _local_iso(v.get("done_at"))} for v in visits],
        supervision=supervision,
        photos=photo_rows,
        events=[
            {"at": _local(e.at), "action": ACTIONS.get(e.action, e.action), "actor": e.actor or "系统"}
            for e in events
        ],
        local=_local,
        printed_at=clock.local_now().strftime("%Y-%m-%d %H:%M"),
        printed_by=user.display_name,
    )
    await privacy.audit(
        user,
        "case.print_dossier",
        row["id"],
        fields=["name", "phone", "id_number"] if full and parties else [],
        personal_data="full" if full else "masked",
    )
    return html
