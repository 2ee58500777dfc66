"""`fengqiao init`: a real deployment for any county, without the demo.

Stores the county (code, name, outline), its townships and villages, and the first county admin with
a one-time password. Idempotent: a re-run for the same county updates divisions in place and makes no
second admin; a database holding the demo, or another county, is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import shapely

from backend.core.errors import AppError, InvalidRequest
from backend.db import write_transaction
from backend.grids import county, divisions
from backend.grids.outline import read_outline
from backend.people import accounts, audit, passwords
from backend.people.tables import User


class DemoDatabase(AppError):
    status_code = 409
    code = "init.demo_database"
    message = "该数据库装有演示数据（fengqiao demo），不能用于正式部署：请换一个空数据库再运行 fengqiao init"
    message_en = "This database holds the demo: run `fengqiao init` on an empty database"


class OtherCounty(AppError):
    status_code = 409
    code = "init.other_county"
    message = "该数据库已初始化为另一个县"
    message_en = "This database was initialised for another county"


class InvalidDivisions(InvalidRequest):
    code = "init.invalid_divisions"
    message = "区划表有误"
    message_en = "The divisions file has errors"


@dataclass(frozen=True)
class InitResult:
    county_code: str
    county_name: str
    townships: int
    villages: int
    divisions_created: int
    divisions_updated: int
    admin_username: str
    one_time_password: str | None  # None: the admin existed already (a re-run)


def county_code12(raw: str) -> str:
    """The 6-digit county code, or the 12-digit one ending in 000000 → the 12-digit form."""
    code = raw.strip()
    if re.fullmatch(r"\d{6}", code):
        code += "000000"
    if not re.fullmatch(r"\d{6}0{6}", code):
        raise InvalidRequest(
            message=f"县级区划代码 {raw!r} 应为 6 位数字，或以 000000 结尾的 12 位数字",
            message_en="The county code is 6 digits, or 12 ending in 000000",
            code="init.invalid_county_code",
        )
    return code


async def initialise(
    *,
    county_code: str,
    county_name: str,
    outline_path: Path,
    crs: str | None = None,
    divisions_path: Path | None = None,
    admin_username: str = "admin",
    case_prefix: str = "",
) -> InitResult:
    code = county_code12(county_code)
    name = county_name.strip()
    if not name or len(name) > 50:
        raise InvalidRequest(
            message="县名不能为空", message_en="The county name is empty", code="init.invalid_name"
        )
    username = accounts.check_username(admin_username)
    existing = await county.current()
    if existing is not None and existing.origin == "demo":
        raise DemoDatabase()
    if existing is not None and existing.code != code:
        raise OtherCounty(
            message=f"该数据库已初始化为 {existing.name}（{existing.code[:6]}），不能改为 {name}"
        )
    outline = read_outline(outline_path, crs)
    parsed = divisions.parse_csv(divisions_path, code) if divisions_path else divisions.DivisionRows()
    if parsed.errors:
        raise InvalidDivisions(
            message="区划表有误："
            + "；".join(parsed.errors[:10])
            + ("……" if len(parsed.errors) > 10 else ""),
            details={"errors": parsed.errors},
        )
    one_time: str | None = None
    async with write_transaction():
        await county.save(
            code=code,
            name=name,
            origin="init",
            outline_wkb=shapely.to_wkb(outline, hex=True),
            case_prefix=case_prefix,
        )
        counts = await divisions.upsert(parsed.rows)
        has_admin = await User.exists().where(User.role == "county_admin").run()
        if not has_admin:
            one_time = passwords.one_time()
            rows = await User.insert(
                User(
                    username=username,
                    display_name="县级管理员",
                    password_hash=passwords.hash_one_time(one_time),
                    role="county_admin",
                    scope_level="county",
                    scope_code=code,
                    must_change_password=True,
                )
            ).run()
            await audit.record(None, "init.admin", target_user=rows[0]["id"], county=code)
        await audit.record(None, "init.divisions", None, county=code, **counts)
    return InitResult(
        county_code=code,
        county_name=name,
        townships=sum(1 for r in parsed.rows if r["level"] == "township"),
        villages=sum(1 for r in parsed.rows if r["level"] == "village"),
        divisions_created=counts["created"],
        divisions_updated=counts["updated"],
        admin_username=username,
        one_time_password=one_time,
    )
