"""`fengqiao grids ...`: import boundaries, list and activate generations, locate a point.

Exit codes of `import`: 0 stored (and activated unless --no-activate), 2 refused (nothing stored),
3 stored but not activated because the topology report has errors (fix, or --force).
With --json, stdout holds exactly one JSON document (the result, or the refusal); progress and the
one-line summary go to stderr.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import click

from backend.core.errors import AppError

EXIT_REFUSED = 2
EXIT_NOT_ACTIVATED = 3
_SHOW_ISSUES = 30


def _run(coro):
    return asyncio.run(coro)


def _level_label(level: str) -> str:
    from backend.grids.topology import LEVEL_NAMES

    return LEVEL_NAMES.get(level, level)


def carried_lines(report: dict) -> list[str]:
    """What the generation took over from an earlier one, and what that means (CLI and admin screen)."""
    by_number: dict[int, list[str]] = {}
    for level, number in report.get("carried", {}).items():
        by_number.setdefault(number, []).append(level)
    lower = report.get("lower") or {}
    recut = set(lower.get("levels", [])) if lower.get("mode") == "recut" else set()
    lines = []
    for number, levels in by_number.items():
        plain = [lv for lv in levels if lv not in recut]
        cut = [lv for lv in levels if lv in recut]
        if plain:
            lines.append(
                f"{'、'.join(_level_label(lv) for lv in plain)}：沿用第 {number} 代"
                f"（本次没有导入这些层级，原样使用第 {number} 代的边界）"
            )
        if cut:
            lines.append(
                f"{'、'.join(_level_label(lv) for lv in cut)}：沿用第 {number} 代，"
                "按新导入的上级裁切（--recut-lower，临时的合成边界）"
            )
    if lower.get("dropped"):
        lines.append(
            f"{'、'.join(_level_label(lv) for lv in lower['dropped'])}：不再沿用（--drop-lower），"
            "定位只回答到本代最细的层级"
        )
    return lines


def _print_report(report: dict) -> None:
    levels = "，".join(f"{_level_label(lv)} {n} 个" for lv, n in report.get("levels", {}).items())
    click.echo(f"层级：{levels}")
    for src in report.get("sources", []):
        fields = src.get("fields", {})
        click.echo(
            f"  {src.get('file')}: {src.get('features')} 个要素，坐标系 {src.get('crs')}，"
            f"编码 {src.get('encoding')}，字段 编码={fields.get('code')} 名称={fields.get('name')} "
            f"上级={fields.get('parent')}"
        )
    for line in carried_lines(report):
        click.echo(f"  {line}")
    status = "通过" if report.get("clean") else "有错误"
    click.echo(f"拓扑检查{status}：{report.get('errors', 0)} 个错误，{report.get('warnings', 0)} 个警告")
    for check, n in report.get("by_check", {}).items():
        click.echo(f"  {check}: {n}")
    issues = report.get("issues", [])
    for it in issues[:_SHOW_ISSUES]:
        mark = "错误" if it["severity"] == "error" else "警告"
        where = f"（约 {it['at'][0]},{it['at'][1]}）" if it.get("at") else ""
        click.echo(f"  [{mark}] {it['message']}{where}")
    if len(issues) > _SHOW_ISSUES:
        click.echo(f"  …… 另有 {len(issues) - _SHOW_ISSUES} 条，见 fengqiao grids report")


@click.group()
def grids() -> None:
    """Grid networks: import boundaries, activate generations."""


@grids.command("import")
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--network", "-n", default="primary", show_default=True, help="Network code (created on first import)"
)
@click.option(
    "--level",
    "-l",
    "levels",
    multiple=True,
    required=True,
    help="Level of each FILE in order: township | village | grid (or an overlay network's level)",
)
@click.option("--code-field", default=None, help="Attribute with the code (default: guessed, e.g. code, DM)")
@click.option("--name-field", default=None, help="Attribute with the name (default: guessed, e.g. name, MC)")
@click.option(
    "--parent-field", default=None, help="Attribute with the parent code (default: guessed, or by location)"
)
@click.option("--layer", default=None, help="Layer of a GeoPackage or KML with several layers")
@click.option("--encoding", default=None, help="Attribute encoding, e.g. GBK (default: .cpg, or guessed)")
@click.option(
    "--crs",
    default=None,
    help="CRS when the file has none or a wrong one, e.g. EPSG:4490, EPSG:4521; gcj02 for AMap, DataV "
    "and Tencent data, bd09 for Baidu data (converted to WGS-84 before anything else)",
)
@click.option("--force", is_flag=True, help="Activate even if the topology report has errors")
@click.option("--no-activate", is_flag=True, help="Store the generation without activating it")
@click.option("--base", type=int, default=None, help="Carry other levels forward from this generation id")
@click.option("--network-name", default=None, help="Name of a new network, e.g. 党建网格")
@click.option(
    "--overlay", is_flag=True, help="A new network is an overlay (default: the first one is primary)"
)
@click.option("--network-levels", default=None, help="Levels of a new overlay network, comma-separated")
@click.option(
    "--drop-lower",
    is_flag=True,
    help="Do not carry the levels below the imported ones (locate answers from the finest imported level)",
)
@click.option(
    "--recut-lower",
    is_flag=True,
    help="Clip the carried lower levels to the new parents (a synthetic stop-gap, marked as such)",
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print the result as one JSON document (summary on stderr)"
)
def import_(
    files: tuple[Path, ...],
    network: str,
    levels: tuple[str, ...],
    code_field: str | None,
    name_field: str | None,
    parent_field: str | None,
    layer: str | None,
    encoding: str | None,
    crs: str | None,
    force: bool,
    no_activate: bool,
    base: int | None,
    network_name: str | None,
    overlay: bool,
    network_levels: str | None,
    drop_lower: bool,
    recut_lower: bool,
    as_json: bool,
) -> None:
    """Import boundary FILES (Shapefile, GeoPackage, GeoJSON, KML) as a new generation.

    Example: fengqiao grids import 网格.shp --level grid --encoding GBK --crs EPSG:4521
    """
    from backend.grids import service
    from backend.grids.importer import LayerOptions, read_layer

    if len(levels) != len(files):
        raise click.UsageError("give one --level per FILE, in the same order")
    if drop_lower and recut_lower:
        raise click.UsageError("--drop-lower 与 --recut-lower 只能选一个")
    lower = "drop" if drop_lower else "recut" if recut_lower else "carry"

    async def run() -> service.ImportResult:
        layers = []
        for path, level in zip(files, levels, strict=True):
            options = LayerOptions(
                level=level,
                code_field=code_field,
                name_field=name_field,
                parent_field=parent_field,
                layer=layer,
                encoding=encoding,
                crs=crs,
            )
            layers.append(await asyncio.to_thread(read_layer, path, options, progress=True))
        click.echo("检查拓扑……", err=True)
        return await service.import_layers(
            network,
            layers,
            base=base,
            activate=not no_activate,
            force=force,
            network_name=network_name,
            network_kind="overlay" if overlay else None,
            network_levels=network_levels.split(",") if network_levels else None,
            lower=lower,
            progress=True,
        )

    try:
        result = _run(run())
    except AppError as exc:
        click.echo(f"导入被拒绝：{exc.message}", err=True)
        if as_json:
            refusal = {"refused": True, "code": exc.code, "message": exc.message}
            click.echo(json.dumps({**refusal, "report": exc.details.get("report")}, ensure_ascii=False))
        elif "report" in exc.details:
            _print_report(exc.details["report"])
        sys.exit(EXIT_REFUSED)
    if as_json:
        document = {
            "refused": False,
            "network": result.network,
            "generation_id": result.generation_id,
            "number": result.number,
            "reused": result.reused,
            "activated": result.activated,
            "active": result.active,
            "clean": result.clean,
            "summary": result.summary(),
            "report": result.report,
        }
        click.echo(json.dumps(document, ensure_ascii=False, indent=2))
        click.echo(result.summary(), err=True)
    else:
        _print_report(result.report)
        click.echo(result.summary())
    if not no_activate and not result.active:
        sys.exit(EXIT_NOT_ACTIVATED)


@grids.command("list")
def list_() -> None:
    """Networks and their generations (* marks the active one)."""
    from backend.grids import service

    for net in _run(service.list_networks()):
        click.echo(f"{net['code']}  {net['name']}（{net['kind']}，层级 {','.join(net['levels'])}）")
        for g in net["generations"]:
            mark = "*" if g["active"] else " "
            counts = " ".join(f"{lv}={n}" for lv, n in g["counts"].items())
            clean = "通过" if g["clean"] else "有错误"
            click.echo(
                f"  {mark} id {g['id']:<4} 第 {g['number']} 代  {g['imported_at']:%Y-%m-%d %H:%M}  {counts}  "
                f"拓扑{clean}  {g['source']}"
            )


@grids.command("activate")
@click.argument("generation_id", type=int)
@click.option("--force", is_flag=True, help="Activate even if the topology report has errors")
def activate(generation_id: int, force: bool) -> None:
    """Make a generation its network's current one (for every running server within seconds)."""
    from backend.grids import service

    try:
        gen = _run(service.activate_generation(generation_id, force=force))
    except AppError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"已启用 {gen['network_code']} 第 {gen['number']} 代（id {gen['id']}）")


@grids.command("report")
@click.argument("generation_id", type=int)
@click.option("--json", "as_json", is_flag=True)
def report(generation_id: int, as_json: bool) -> None:
    """Show the topology report of a generation."""
    from backend.grids import service

    try:
        gen = _run(service.get_generation(generation_id))
    except AppError as exc:
        raise click.ClickException(exc.message) from None
    if as_json:
        click.echo(json.dumps(gen["report"], ensure_ascii=False, indent=2))
    else:
        _print_report(gen["report"])


@grids.command("locate")
@click.argument("lon", type=float)
@click.argument("lat", type=float)
@click.option("--crs", default="wgs84", type=click.Choice(["wgs84", "gcj02"]))
def locate(lon: float, lat: float, crs: str) -> None:
    """Locate a point, as the API does."""
    from backend.grids import service

    try:
        result = _run(service.locate(lon, lat, crs))
    except AppError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
