"""The county's dispute categories (11 by default), each mapped to the national statistics category."""

from __future__ import annotations

from typing import Any

from piccolo.columns import Column

from backend.cases import schemas
from backend.cases.tables import Case, Category
from backend.core import refcache
from backend.core.errors import AppError, Conflict, NotFound
from backend.db import write_transaction

# (code, name, national mediation statistics category). Seeded by migration fengqiao_0005.
DEFAULT_CATEGORIES: tuple[tuple[str, str, str], ...] = (
    ("neighbour", "邻里纠纷", "邻里纠纷"),
    ("relationship", "情感纠纷", "婚姻纠纷"),
    ("land_compensation", "征地补偿", "征地拆迁"),
    ("agriculture", "农业农村", "生产经营"),
    ("labour", "劳动仲裁", "劳动争议"),
    ("marriage_family", "婚姻家庭", "家庭纠纷"),
    ("forest_land", "山林土地", "山林土地"),
    ("homestead", "房屋宅基地", "房屋宅基地"),
    ("contract_debt", "合同债务", "合同纠纷"),
    ("damages", "损害赔偿", "损害赔偿"),
    ("other", "其他", "其他纠纷"),
)


class UnknownCategory(AppError):
    status_code = 400
    code = "case.unknown_category"
    message = "纠纷类别不存在或已停用"
    message_en = "Unknown or inactive category"


def _view(row: dict) -> schemas.CategoryView:
    return schemas.CategoryView(
        code=row["code"], name=row["name"], national_category=row["national_category"], active=row["active"]
    )


async def _all_rows() -> list[dict[str, Any]]:
    return await Category.select().order_by(Category.sort_order).order_by(Category.id).run()


# Read by every case list, detail and intake; written by the county office a few times a year.
_categories: refcache.Reference[list[dict[str, Any]]] = refcache.Reference("categories", _all_rows)


async def list_categories(include_inactive: bool = False) -> list[schemas.CategoryView]:
    return [_view(r) for r in await _categories.get() if include_inactive or r["active"]]


async def category_names() -> dict[str, str]:
    return {r["code"]: r["name"] for r in await _categories.get()}


async def require_active(code: str) -> None:
    if not any(r["code"] == code and r["active"] for r in await _categories.get()):
        raise UnknownCategory(details={"category": code})


async def create_category(data: schemas.CategoryCreate) -> schemas.CategoryView:
    async with write_transaction():
        clash = (
            await Category.exists().where((Category.code == data.code) | (Category.name == data.name)).run()
        )
        if clash:
            raise Conflict(
                code="case.category_exists",
                message="类别代码或名称已存在",
                message_en="Category exists",
            )
        last = (
            await Category.select(Category.sort_order)
            .order_by(Category.sort_order, ascending=False)
            .first()
            .run()
        )
        _categories.forget()
        await Category.insert(
            Category(
                code=data.code,
                name=data.name,
                national_category=data.national_category,
                sort_order=(last["sort_order"] if last else 0) + 1,
            )
        ).run()
    row = await Category.select().where(Category.code == data.code).first().run()
    if row is None:
        raise NotFound()  # deleted since, by another request
    return _view(row)


async def update_category(code: str, data: schemas.CategoryUpdate) -> schemas.CategoryView:
    """Rename, remap or (de)activate. Codes never change, so cases keep pointing at them."""
    values: dict[Column | str, Any] = {
        column: value
        for column, value in (
            (Category.name, data.name),
            (Category.national_category, data.national_category),
            (Category.active, data.active),
        )
        if value is not None
    }
    async with write_transaction():
        if not await Category.exists().where(Category.code == code).run():
            raise NotFound()
        if (
            data.name
            and await Category.exists().where((Category.name == data.name) & (Category.code != code)).run()
        ):
            raise Conflict(
                code="case.category_exists",
                message="类别名称已存在",
                message_en="Name taken",
            )
        if values:
            _categories.forget()
            await Category.update(values).where(Category.code == code).run()
    row = await Category.select().where(Category.code == code).first().run()
    if row is None:
        raise NotFound()  # deleted since, by another request
    return _view(row)


async def delete_category(code: str) -> None:
    """Only a category no case uses may be deleted; otherwise deactivate it."""
    async with write_transaction():
        if not await Category.exists().where(Category.code == code).run():
            raise NotFound()
        if await Case.exists().where(Case.category == code).run():
            raise Conflict(
                code="case.category_in_use",
                message="该类别已有案件使用，不能删除，可以停用",
                message_en="The category is in use; deactivate it instead",
            )
        _categories.forget()
        await Category.delete().where(Category.code == code).run()
