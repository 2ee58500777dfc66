"""Townships and villages of the county, by their 12-digit statistics codes (统计用区划代码).

`fengqiao init --divisions FILE.csv` reads them (columns `code,name,level,parent_code`, level
`township|village`); the demo loads its own. Codes never change: a re-run updates names in place.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from backend.core import refcache
from backend.db import write_transaction
from backend.grids.tables import Division

CODE12 = re.compile(r"^\d{12}$")
LEVELS = ("township", "village")
# The level as written in the file: the English names, or what a clerk types in Chinese.
LEVEL_ALIASES = {"乡镇": "township", "乡": "township", "镇": "township", "村": "village", "社区": "village"}


async def _load_names(codes: set[str]) -> dict[str, str]:
    rows = await Division.select(Division.code, Division.name).where(Division.code.is_in(list(codes))).run()
    return {row["code"]: row["name"] for row in rows}


# Every case list and detail names its township and village; the names change with an import.
_names: refcache.KeyedReference[str] = refcache.KeyedReference("division_names", _load_names)


async def names(codes: set[str]) -> dict[str, str]:
    """Names of division codes (those found), by code."""
    return await _names.get_many(codes)


def forget_names() -> None:
    """Call in the transaction that writes divisions."""
    _names.forget()


@dataclass
class DivisionRows:
    rows: list[dict[str, str | None]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # Chinese, one per bad line


def _short(name: str) -> str:
    """关庙社区居民委员会 → 关庙社区; 右甸村民委员会 → 右甸村 (how people say them)."""
    for suffix, keep in (("居民委员会", ""), ("村民委员会", "村"), ("村委会", "村"), ("居委会", "")):
        if name.endswith(suffix) and len(name) > len(suffix):
            stem = name[: -len(suffix)]
            return stem if stem.endswith(keep) else stem + keep
    return name


def _level(row: dict[str, str]) -> str:
    raw = (row.get("level") or "").strip()
    return LEVEL_ALIASES.get(raw, raw)


def parse_csv(source: Path | str | bytes, county_code: str) -> DivisionRows:
    """Check every line against the county: 12-digit codes under the county's 6-digit prefix, a
    township's parent the county, a village's parent a township of the file."""
    raw = Path(source).read_bytes() if not isinstance(source, bytes) else source
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("gb18030", errors="replace")  # Excel's 'CSV' on Chinese Windows
    out = DivisionRows()
    reader = csv.DictReader(io.StringIO(text))
    missing = {"code", "name", "level", "parent_code"} - set(reader.fieldnames or [])
    if missing:
        out.errors.append(f"缺少列：{'、'.join(sorted(missing))}（需要 code,name,level,parent_code）")
        return out
    townships: set[str] = set()
    seen: set[str] = set()
    lines = list(reader)
    for line_no, r in enumerate(lines, start=2):
        code = (r.get("code") or "").strip()
        name = (r.get("name") or "").strip()
        level = _level(r)
        if level == "township":
            townships.add(code)
        where = f"第 {line_no} 行"
        if not CODE12.match(code):
            out.errors.append(f"{where}：区划代码 {code!r} 不是 12 位数字")
        elif not code.startswith(county_code[:6]):
            out.errors.append(f"{where}：区划代码 {code} 不属于本县（{county_code[:6]}）")
        elif code in seen:
            out.errors.append(f"{where}：区划代码 {code} 重复")
        seen.add(code)
        if not name:
            out.errors.append(f"{where}：名称为空")
        if level not in LEVELS:
            out.errors.append(f"{where}：级别 {r.get('level')!r} 应为 township 或 village")
    for line_no, r in enumerate(lines, start=2):
        code = (r.get("code") or "").strip()
        parent = (r.get("parent_code") or "").strip()
        level = _level(r)
        if level == "township" and parent not in ("", county_code):
            out.errors.append(f"第 {line_no} 行：乡镇 {code} 的上级应为本县 {county_code}")
        if level == "village" and parent not in townships:
            out.errors.append(
                f"第 {line_no} 行：村（社区）{code} 的上级 {parent or '（空）'} 不是文件中的乡镇"
            )
        if level in LEVELS:
            name = (r.get("name") or "").strip()
            out.rows.append(
                {
                    "code": code,
                    "name": name,
                    "short_name": _short(name),
                    "level": level,
                    "parent_code": county_code if level == "township" else parent,
                }
            )
    return out


async def upsert(rows: list[dict[str, str | None]]) -> dict[str, int]:
    """Insert new codes and rename existing ones, in one transaction; returns {created, updated}."""
    existing = {r["code"]: r for r in await Division.select().run()}
    created = updated = 0
    async with write_transaction():
        forget_names()
        for row in rows:
            old = existing.get(str(row["code"]))
            if old is None:
                await Division.insert(Division.from_dict(row)).run()
                created += 1
            elif any(old[k] != row[k] for k in ("name", "short_name", "level", "parent_code")):
                # Piccolo takes str keys (its docs show them) but types the mapping as
                # dict[Column | str, Any], which a dict[str, ...] is not (dict is invariant).
                await Division.update(row).where(Division.code == row["code"]).run()  # type: ignore[arg-type]
                updated += 1
    return {"created": created, "updated": updated}
