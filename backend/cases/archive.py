"""卷宗号 (archive numbers): `{year}-{committee short code}-{serial}`, given once, when a case is archived.

The file is kept by the village's 人民调解委员会, so the number counts per committee and year. The
committee short code is the last six digits of the village's 12-digit statistics code (three for the
township, three for the village: 530524101001 → 101001), which are unique within a county and readable
on a folder's spine. A case placed in no village is filed by its township's committee (101000); one in
no township by the county's (000000). Serials start at 0001 each year and never repeat: they come from
the same upsert counter as case numbers (case_number_counter), under keys of their own.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from piccolo.querystring import QueryString

from backend.core import clock
from backend.db import DB

COUNTY_COMMITTEE = "000000"


def committee_code(case: dict[str, Any]) -> str:
    area = case.get("village_code") or case.get("township_code")
    return area[6:12] if area and len(area) == 12 else COUNTY_COMMITTEE


async def next_archive_number(case: dict[str, Any], at: datetime) -> str:
    """The next number of the case's committee in the local year of `at`. Call inside the write
    transaction (see intake.next_case_number: the upsert serialises concurrent archiving)."""
    year = at.astimezone(clock.LOCAL_TZ).year
    code = committee_code(case)
    rows = await DB.run_querystring(
        QueryString(
            "INSERT INTO case_number_counter (key, last_serial) VALUES ({}, 1) "
            "ON CONFLICT (key) DO UPDATE SET last_serial = case_number_counter.last_serial + 1 "
            "RETURNING last_serial",
            f"A{code}-{year}",
        )
    )
    return f"{year}-{code}-{rows[0]['last_serial']:04d}"
