"""Loads the Changning demo grid set (grids/changning/*.geojson) through the ordinary import path.

Two networks: 综治网格 (`primary`: township → village → grid) and the overlay 党建网格 (`party`).
Idempotent: the same files make no new generation, and a network that already has an active
generation (say, real boundaries imported later) is not switched back to the demo.
"""

from __future__ import annotations

import anyio

from backend.grids import service
from backend.grids.importer import LayerOptions, file_checksum, read_layer
from backend.grids.tables import GridRegion
from backend.settings import REPO_ROOT

DEMO_DIR = REPO_ROOT / "grids" / "changning"
PRIMARY = ("primary", "综治网格", "primary", ("township", "village", "grid"))
PARTY = ("party", "党建网格", "overlay", ("party",))
FILES = {
    "primary": {"township": "townships.geojson", "village": "villages.geojson", "grid": "grid_cells.geojson"},
    "party": {"party": "party_grids.geojson"},
}


def _options(level: str) -> LayerOptions:
    return LayerOptions(level=level, code_field="code", name_field="name", parent_field="parent_code")


async def _load_network(
    code: str, name: str, kind: str, levels: tuple[str, ...]
) -> service.ImportResult | dict:
    files = {level: DEMO_DIR / fname for level, fname in FILES[code].items()}
    checksum = service.generation_checksum({lv: file_checksum(p, _options(lv)) for lv, p in files.items()})
    existing = await service.find_generation(code, checksum)
    if existing is not None and (existing["active"] or await _has_active(code)):
        return existing
    layers = await anyio.to_thread.run_sync(lambda: [read_layer(p, _options(lv)) for lv, p in files.items()])
    return await service.import_layers(
        code, layers, activate="if_none", network_name=name, network_kind=kind, network_levels=levels
    )


async def _has_active(code: str) -> bool:
    net = await service.ensure_network(code)
    return await service.active_generation(net["id"]) is not None


async def load_demo_grids() -> dict[str, int]:
    generations = []
    for spec in (PRIMARY, PARTY):
        loaded = await _load_network(*spec)
        generations.append(loaded.generation_id if isinstance(loaded, service.ImportResult) else loaded["id"])
    gen_id = generations[0]
    rows = await GridRegion.raw(
        "SELECT level, COUNT(*) AS n FROM grid_region WHERE generation IN "
        "(SELECT id FROM grid_generation WHERE active = {} AND network IN "
        "(SELECT id FROM grid_network WHERE code IN ({}, {}))) GROUP BY level",
        True,
        PRIMARY[0],
        PARTY[0],
    ).run()
    counts = {r["level"]: r["n"] for r in rows}
    return {
        "grid_townships": counts.get("township", 0),
        "grid_villages": counts.get("village", 0),
        "grid_cells": counts.get("grid", 0),
        "party_grids": counts.get("party", 0),
        "grid_generation": gen_id,
    }
