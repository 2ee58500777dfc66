"""The mediation agreement (调解协议书, 人民调解法 art. 28–33; 若干规定 art. 35): what a written or an oral
agreement must hold, how it is printed before signing, when it takes effect and the 司法确认 deadline.

The printable page is rendered by `render_agreement_html(context)` from `print_context(...)`; the case
file (卷宗) renders the same agreement with `render_agreement_html(context, standalone=False)` (the body
only, one copy, no page wrapper). `mask_third_parties` is the 不公开 rule for any print of a case.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
from jinja2 import Environment, FileSystemLoader, select_autoescape
from piccolo.columns.combination import Combinable

from backend.cases import party_data, privacy, schemas
from backend.cases.categories import category_names
from backend.cases.scope import get_case_row, scoped
from backend.cases.tables import Agreement, Case, Party
from backend.core import clock
from backend.core.errors import AppError, Forbidden, NotFound
from backend.core.identity import CurrentUser
from backend.core.text import is_blank
from backend.people.audit import record as record_audit
from backend.people.service import division_names
from backend.people.tables import Team

# Both parties may ask a court to confirm a written agreement within 30 days of its taking effect
# (人民调解法 art. 33); the mediator is reminded on day 20 so there is time to tell them.
CONFIRMATION_DAYS = 30
CONFIRMATION_REMIND_DAY = 20
PARTY_ROLES = {"applicant": "申请人", "respondent": "被申请人", "party": "当事人", "witness": "证人"}
SIGNING_ROLES = ("applicant", "respondent", "party")  # witnesses and others do not sign
FIELD_LABELS = {
    "facts": "纠纷主要事实",
    "matters": "争议事项",
    "responsibilities": "各方责任",
    "obligations": "协议义务（至少一项）",
    "content": "协议内容",
    "manner": "履行方式",
    "place": "履行地点",
    "deadline": "履行期限",
    "terms": "协议内容",
    "performance": "履行方式和期限",
}
CONFIRMATION_RESULTS = {"confirmed": "已确认", "rejected": "驳回", "pending": "审查中"}

_templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=select_autoescape(["html", "j2"])
)


class IncompleteAgreement(AppError):
    code = "agreement.incomplete"
    message = "调解协议内容不完整"
    message_en = "The agreement is incomplete"


class UnknownParty(AppError):
    code = "agreement.unknown_party"
    message = "履行义务的当事人不在本案当事人中"
    message_en = "An obligation names a party the case does not have"


class NotSignable(AppError):
    status_code = 409
    code = "agreement.not_written"
    message = "口头协议无需签字，也不能申请司法确认"
    message_en = "An oral agreement has no signed paper and no court confirmation"


class NoAgreement(NotFound):
    code = "case.no_agreement"
    message = "该案件尚无调解协议"
    message_en = "No agreement yet"


# --- what an agreement must hold ------------------------------------------------------------------


def missing_fields(a: schemas.AgreementIn) -> list[str]:
    """The required fields left empty, by their API names ("obligations[0].manner" for the first
    obligation's manner), in the form's order."""
    if a.form is None:  # the free-text shape of earlier app versions: all four texts
        return [f for f in ("facts", "matters", "terms", "performance") if is_blank(getattr(a, f))]
    if a.form == "oral":
        return ["content"] if is_blank(a.content) else []
    missing = [f for f in ("facts", "matters", "responsibilities") if is_blank(getattr(a, f))]
    if not a.obligations:
        missing.append("obligations")
    for i, o in enumerate(a.obligations):
        for f in ("content", "manner", "place"):
            if is_blank(getattr(o, f)):
                missing.append(f"obligations[{i}].{f}")
        if o.deadline is None:
            missing.append(f"obligations[{i}].deadline")
    return missing


def _label(field: str) -> str:
    if field.startswith("obligations["):
        index, name = field[len("obligations[") :].split("].")
        return f"第{int(index) + 1}项义务的{FIELD_LABELS[name]}"
    return FIELD_LABELS[field]


def _party_index(party: int | str | None, parties: list[dict[str, Any]]) -> int | None:
    if party is None or party == "":
        return None
    if isinstance(party, int):
        if party < len(parties):
            return party
    else:
        for i, p in enumerate(parties):
            if p["name"] == party.strip():
                return i
    raise UnknownParty(details={"party": party})


async def columns_for(a: schemas.AgreementIn, case_id: uuid.UUID) -> dict[str, Any]:
    """The Agreement columns for a resolve, or 400 agreement.incomplete naming every missing field."""
    missing = missing_fields(a)
    if missing:
        raise IncompleteAgreement(
            message="调解协议缺少：" + "、".join(_label(f) for f in missing),
            message_en="Missing: " + ", ".join(missing),
            details={"missing": missing},
        )
    parties = await _parties(case_id)
    obligations = [
        {
            "party": _party_index(o.party, parties),
            "content": o.content.strip(),
            "manner": o.manner.strip(),
            "place": o.place.strip(),
            "deadline": o.deadline.isoformat() if o.deadline else None,
        }
        for o in (a.obligations if a.form == "written" else [])
    ]
    amount = Decimal(str(round(a.amount_yuan, 2))) if a.amount_yuan is not None else None
    return {
        "form": a.form or "",
        "facts": a.facts.strip() if a.form != "oral" else "",
        "matters": a.matters.strip() if a.form != "oral" else "",
        "responsibilities": a.responsibilities.strip() if a.form == "written" else "",
        "obligations": msgspec.json.encode(obligations).decode(),
        "amount_yuan": amount,
        "content": a.content.strip() if a.form == "oral" else "",
        "terms": a.terms.strip() if a.form is None else "",
        "performance": a.performance.strip() if a.form is None else "",
    }


async def _parties(case_id: uuid.UUID) -> list[dict[str, Any]]:
    """The case's parties in order, phone and ID number decrypted (party_data)."""
    rows = await Party.select().where(Party.case == case_id).order_by(Party.position).order_by(Party.id).run()
    return party_data.opened(rows)


def is_signable(row: dict[str, Any]) -> bool:
    """Written agreements (and the free-text ones from before the form) are signed; oral ones are not."""
    return row["form"] != "oral"


# --- after it is made -----------------------------------------------------------------------------


def awaiting_signature() -> Combinable:
    """Agreements still 待签字 (a written one without the signed paper's photo): for the case view and
    the 月排查 report (`Case.id.is_in(Agreement.select(Agreement.case).where(awaiting_signature()))`)."""
    return (Agreement.form == "written") & Agreement.signed_at.is_null() & Agreement.signed_photo.is_null()


def awaiting_signature_at(at: datetime) -> Combinable:
    """Written agreements that were 待签字 at `at`: made before it, the signed paper not yet attached
    then (the 月排查 report as of its period's end)."""
    return (
        (Agreement.form == "written")
        & (Agreement.made_at < at)
        & (Agreement.signed_at.is_null() | (Agreement.signed_at >= at))
    )


def confirmation_deadline(row: dict[str, Any]) -> date | None:
    """The last local day the parties may apply for 司法确认: 30 days after the agreement took effect
    (was signed). None for an oral agreement or one not yet signed."""
    effective = took_effect(row)
    if not is_signable(row) or effective is None:
        return None
    return effective.astimezone(clock.LOCAL_TZ).date() + timedelta(days=CONFIRMATION_DAYS)


def took_effect(row: dict[str, Any]) -> datetime | None:
    """When the signed paper's photo came (an agreement signed before signed_at existed: when made)."""
    return row["signed_at"] or (row["made_at"] if row["signed_photo"] else None)


def json_list(value: Any) -> list[Any]:
    if isinstance(value, str):
        return msgspec.json.decode(value) if value else []
    return list(value or [])


def view(row: dict[str, Any], party_names: list[str]) -> schemas.AgreementView:
    """The agreement as the case detail shows it; `party_names` are the case's parties in order, already
    masked or not for the caller."""
    waiting = row["form"] == "written" and row["signed_at"] is None and row["signed_photo"] is None
    obligations = [
        schemas.ObligationView(
            party=o.get("party"),
            party_name=party_names[o["party"]]
            if o.get("party") is not None and o["party"] < len(party_names)
            else None,
            content=o.get("content", ""),
            manner=o.get("manner", ""),
            place=o.get("place", ""),
            deadline=date.fromisoformat(o["deadline"]) if o.get("deadline") else None,
        )
        for o in json_list(row["obligations"])
    ]
    confirmation = None
    if row["confirmation_applied"] is not None:
        confirmation = schemas.ConfirmationView(
            applied=row["confirmation_applied"],
            court=row["confirmation_court"],
            result=row["confirmation_result"],
            date=row["confirmation_date"],
        )
    signed = row["signed_at"] is not None or row["signed_photo"] is not None
    label = "待签字" if waiting else "口头协议" if row["form"] == "oral" else "已签字生效" if signed else ""
    return schemas.AgreementView(
        facts=row["facts"],
        matters=row["matters"],
        terms=row["terms"],
        performance=row["performance"],
        signed_photo=row["signed_photo"],
        made_at=row["made_at"],
        made_by=row["made_by.display_name"],
        form=row["form"],
        responsibilities=row["responsibilities"],
        obligations=obligations,
        amount_yuan=float(row["amount_yuan"]) if row["amount_yuan"] is not None else None,
        content=row["content"],
        signed_photos=json_list(row["signed_photos"])
        or ([row["signed_photo"]] if row["signed_photo"] else []),
        signed_at=row["signed_at"],
        awaiting_signature=waiting,
        status_label=label,
        performance_status=row["performance_status"],
        confirmation_deadline=confirmation_deadline(row),
        confirmation=confirmation,
    )


# --- printing -------------------------------------------------------------------------------------


def mask_third_parties(parties: list[dict[str, Any]], confidential: bool) -> list[dict[str, Any]]:
    """The people a print names. In a 不公开 case everyone who is not a party to the agreement (a
    witness) is masked and their phone and ID number left out; the parties sign, so they are named."""
    out = []
    for p in parties:
        p = dict(p)
        if confidential and p["role"] not in SIGNING_ROLES:
            p.update(name=privacy.mask_name(p["name"]), phone=None, id_number=None)
        out.append(p)
    return out


def committee_name(village: str, township: str) -> str:
    """The 人民调解委员会 that seals the agreement: the village's (村/社区调委会), else the township's.
    Divisions carry their official names: "关庙社区居民委员会" has "关庙社区人民调解委员会", "大田坝村民
    委员会" has "大田坝村人民调解委员会"."""
    name = village or township
    if name.endswith("村民委员会"):
        name = name.removesuffix("民委员会")
    name = name.removesuffix("居民委员会")
    return f"{name}人民调解委员会"


async def print_context(user: CurrentUser, case_id: str, *, purpose: str = "print") -> dict[str, Any]:
    """Everything a print of the agreement needs, for those who may see the parties in full (403
    otherwise). Written to the audit log (agreement.print: who, when, which case)."""
    row = await get_case_row(user, case_id)
    if not privacy.may_see_personal_data(user, row):
        raise Forbidden(message="您没有权限查看当事人信息", message_en="Not allowed")
    agreement = (
        await Agreement.select(*Agreement.all_columns(), Agreement.made_by.display_name)
        .where(Agreement.case == row["id"])
        .first()
        .run()
    )
    if agreement is None:
        raise NoAgreement()
    parties = mask_third_parties(await _parties(row["id"]), row["confidential"])
    names = await division_names({c for c in (row["township_code"], row["village_code"]) if c})
    township = names.get(row["township_code"] or "", "")
    village = names.get(row["village_code"] or "", "")
    team = None
    if row["owner_team"] is not None:
        team = await Team.select(Team.name).where(Team.id == row["owner_team"]).first().run()
    await record_audit(user, "agreement.print", row["id"], form=agreement["form"] or "text", purpose=purpose)
    await privacy.audit(
        user,
        "case.read_personal",
        row["id"],
        fields=["name", "phone", "id_number"],
        purpose="print_agreement",
    )
    category = (await category_names()).get(row["category"], row["category"])
    return context(row, agreement, parties, township, village, category, team["name"] if team else "")


def context(
    row: dict[str, Any],
    agreement: dict[str, Any],
    parties: list[dict[str, Any]],
    township: str,
    village: str,
    category: str,
    team: str,
) -> dict[str, Any]:
    """What `render_agreement_html` needs, from rows already read and checked (the print above, the
    case file): `parties` as they may be shown to this reader (masked or not, 不公开 applied)."""
    return {
        "case": row,
        "agreement": agreement,
        "view": view(agreement, [p["name"] for p in parties]),
        "parties": parties,
        "signing": [p for p in parties if p["role"] in SIGNING_ROLES],
        "others": [p for p in parties if p["role"] not in SIGNING_ROLES],
        "township": township,
        "village": village,
        "committee": committee_name(village, township),
        "category": category,
        "team": team,
        "printed_at": clock.local_now(),
    }


def render_agreement_html(context: dict[str, Any], *, standalone: bool = True) -> str:
    """The agreement as HTML from `print_context`. standalone: the A4 page to print before signing, one
    copy per signing party and one for the committee. Otherwise the body of one copy, for embedding
    (the case file): a <section class="agreement"> with its own scoped styles."""
    template = "agreement.html.j2" if standalone else "agreement_body.html.j2"
    return _templates.get_template(template).render(
        **context,
        roles=PARTY_ROLES,
        results=CONFIRMATION_RESULTS,
        tz=clock.LOCAL_TZ,
        copy=None,
    )


def agreement_json(context: dict[str, Any]) -> dict[str, Any]:
    """The agreement as JSON (format=json)."""
    return msgspec.to_builtins(context["view"])


# --- the oral agreement register (口头调解协议登记) ---------------------------------------------------


async def oral_register(
    user: CurrentUser, since: datetime | None, until: datetime | None, limit: int = 500
) -> list[dict[str, Any]]:
    """The oral agreements of the cases this user may see in full, newest first: the 口头调解协议登记
    book. Listing it is audited like a print."""
    query = (
        Agreement.select(
            Agreement.case,
            Agreement.content,
            Agreement.made_at,
            Agreement.made_by.display_name,
            Agreement.case.number,
            Agreement.case.title,
            Agreement.case.category,
            Agreement.case.village_code,
            Agreement.case.township_code,
            Agreement.case.confidential,
            Agreement.case.owner_team,
            Agreement.case.mediator,
        )
        .where(Agreement.form == "oral")
        .order_by(Agreement.made_at, ascending=False)
        .limit(limit)
    )
    cases = scoped(Case.select(Case.id), user)
    query = query.where(Agreement.case.is_in(cases))
    if since is not None:
        query = query.where(Agreement.made_at >= since)
    if until is not None:
        query = query.where(Agreement.made_at < until)
    # The recorded content names the parties: only those who may see them in full get the entry.
    rows = [
        r
        for r in await query.run()
        if privacy.may_see_personal_data(
            user,
            {
                "township_code": r["case.township_code"],
                "owner_team": r["case.owner_team"],
                "mediator": r["case.mediator"],
            },
        )
    ]
    names = await division_names(
        {c for r in rows for c in (r["case.village_code"], r["case.township_code"]) if c}
    )
    categories = await category_names()
    return [
        {
            "case_id": str(r["case"]),
            "number": r["case.number"],
            "title": "（不公开）" if r["case.confidential"] else r["case.title"],
            "category": categories.get(r["case.category"], r["case.category"]),
            "place": names.get(r["case.village_code"] or "", "")
            or names.get(r["case.township_code"] or "", ""),
            "content": "（不公开案件，内容见案卷）" if r["case.confidential"] else r["content"],
            "made_at": r["made_at"],
            "made_by": r["made_by.display_name"],
        }
        for r in rows
    ]


def render_oral_register_html(rows: list[dict[str, Any]], title: str) -> str:
    return _templates.get_template("oral_register.html.j2").render(rows=rows, title=title, tz=clock.LOCAL_TZ)
