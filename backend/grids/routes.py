"""HTTP routes of the grids domain: locate a point, grid polygons for maps, region lists."""

from __future__ import annotations

from typing import Annotated

import anyio
import msgspec
from litestar import Controller, Request, Response, delete, get, post, put
from litestar.datastructures import State
from litestar.params import FromPath, FromQuery, JSONBody, Parameter
from litestar.types import ControllerRouterHandler

from backend.core.http import requires_role
from backend.core.identity import CurrentUser, Role
from backend.grids import county, maps, schemas, service, uploads
from backend.grids.cli import carried_lines
from backend.grids.locate import InvalidCoordinates

# Grid polygons change only when a new generation is activated; the ETag changes with it.
GRIDS_CACHE_CONTROL = "private, max-age=600, stale-while-revalidate=86400"


def _float(text: str | None) -> float:
    """Coordinates arrive as text and are parsed here, so '1e999', 'NaN' or 'abc' all end as
    geo.invalid_coordinates rather than a generic validation error."""
    if text is None or not text.strip():
        raise InvalidCoordinates()
    try:
        return float(text)
    except ValueError:
        raise InvalidCoordinates() from None


def _not_modified(request: Request, etag: str) -> bool:
    header = request.headers.get("if-none-match")
    if not header:
        return False
    tags = {t.strip().removeprefix("W/") for t in header.split(",")}
    return etag in tags or "*" in tags


def _township_param(township: str | None, user: CurrentUser) -> str | None:
    """`township=mine` is the caller's own township (the offline set a phone keeps)."""
    return user.township_code if township == "mine" else township or None


class GridsController(Controller):
    path = "/api"
    tags = ["grids"]

    @get("/locate", operation_id="locate")
    async def locate(
        self,
        lon: Annotated[str | None, Parameter(description="Longitude, decimal degrees")] = None,
        lat: Annotated[str | None, Parameter(description="Latitude, decimal degrees")] = None,
        crs: Annotated[
            str, Parameter(description="wgs84 (GPS, default) or gcj02 (AMap/Tencent/WeChat)")
        ] = "wgs84",
    ) -> schemas.LocateView:
        """Township, village and grid cell of a point, with status inside / boundary (within 50 m of
        an edge: ask the user) / nearest (outside every cell but within 500 m) / outside."""
        result = await service.locate(_float(lon), _float(lat), crs)
        return msgspec.convert(result.to_dict(), schemas.LocateView)

    @get("/grids", operation_id="list_grids", media_type="application/geo+json")
    async def list_grids(
        self,
        request: Request[CurrentUser, object, State],
        level: FromQuery[str] = "township",
        bbox: FromQuery[str | None] = None,
        township: FromQuery[str | None] = None,
        network: FromQuery[str | None] = None,
    ) -> Response[bytes]:
        """Polygons of the active generation at a level as GeoJSON, simplified without opening gaps
        between neighbours. Filter by bbox (min_lon,min_lat,max_lon,max_lat) or township code
        (`mine`: the caller's). Cached by ETag: send If-None-Match to get 304."""
        box = maps.parse_bbox(bbox)
        town = _township_param(township, request.user)
        headers = {"Cache-Control": GRIDS_CACHE_CONTROL, "Vary": "Authorization"}
        etag = await maps.grids_etag(level, box, town, network)
        if _not_modified(request, etag):
            return Response(b"", status_code=304, headers={**headers, "ETag": etag})
        etag, body = await maps.grids_geojson(level, box, town, network)
        return Response(body, media_type="application/geo+json", headers={**headers, "ETag": etag})

    @get("/regions", operation_id="list_regions")
    async def list_regions(
        self,
        request: Request[CurrentUser, object, State],
        level: FromQuery[str | None] = None,
        parent: FromQuery[str | None] = None,
        network: FromQuery[str | None] = None,
    ) -> Response[list[schemas.RegionView]]:
        """Codes, names and parent codes of the active grid generations, for pickers."""
        etag, rows = await maps.regions(level, parent, network)
        headers = {"Cache-Control": GRIDS_CACHE_CONTROL, "ETag": etag}
        if _not_modified(request, etag):
            # The return annotation gives OpenAPI the 200 body; Response[T] cannot say a 304 has none.
            return Response(b"", status_code=304, headers=headers)  # type: ignore[arg-type]
        return Response([schemas.RegionView(**r) for r in rows], headers=headers)


class GridsAdminController(Controller):
    """Grid networks and generations, for the county office."""

    path = "/api/admin/grids"
    tags = ["grids"]
    guards = [requires_role(Role.county_admin)]

    @get("/networks", operation_id="list_grid_networks")
    async def list_networks(self) -> list[schemas.NetworkView]:
        """Networks with every generation, newest first, and which one is active."""
        return [
            schemas.NetworkView(
                id=n["id"],
                code=n["code"],
                name=n["name"],
                kind=n["kind"],
                levels=n["levels"],
                generations=[
                    schemas.GenerationView(**{k: g[k] for k in schemas.GenerationView.__struct_fields__})
                    for g in n["generations"]
                ],
            )
            for n in await service.list_networks()
        ]

    @get("/generations/{generation_id:int}/report", operation_id="grid_generation_report")
    async def report(self, generation_id: FromPath[int]) -> dict:
        """The topology report made when the generation was imported."""
        return (await service.get_generation(generation_id))["report"]

    @post(
        "/generations/{generation_id:int}/activate", status_code=200, operation_id="activate_grid_generation"
    )
    async def activate(self, generation_id: FromPath[int], data: JSONBody[schemas.ActivateRequest]) -> dict:
        """Make a generation its network's current one (refused on an unclean report without force)."""
        gen = await service.activate_generation(generation_id, force=data.force)
        return {
            "id": gen["id"],
            "number": gen["number"],
            "active": gen["active"],
            "network": gen["network_code"],
        }

    @delete("/generations/{generation_id:int}", status_code=204, operation_id="discard_grid_generation")
    async def discard(self, generation_id: FromPath[int]) -> None:
        """Delete a generation that was never active (a test import, a wrong file)."""
        await uploads.discard_generation(generation_id)

    @get("/generations/{generation_id:int}/geojson", operation_id="grid_generation_geojson")
    async def generation_geojson(
        self, generation_id: FromPath[int], level: FromQuery[str] = "township"
    ) -> dict:
        """A generation's polygons at a level (simplified), active or not, to preview an import."""
        return await uploads.generation_geojson(generation_id, level)

    @post("/uploads", status_code=201, operation_id="new_grid_upload")
    async def new_upload(self) -> dict:
        """Start an upload of boundary files: the id to send them to."""
        return {"id": uploads.new_upload()}

    # The screen sends 4 MB chunks; the app's 1 MB JSON limit is for JSON, not boundary files.
    @put(
        "/uploads/{upload_id:str}/files/{name:str}",
        operation_id="put_grid_upload_chunk",
        request_max_body_size=5 * 1024 * 1024,
    )
    async def put_chunk(
        self, request: Request, upload_id: FromPath[str], name: FromPath[str], offset: FromQuery[int] = 0
    ) -> dict:
        """Append raw bytes to a file of the upload at `offset` (409 grids.upload_offset with the
        server's offset when they disagree: continue from there)."""
        body = await request.body()
        size = await anyio.to_thread.run_sync(uploads.put_chunk, upload_id, name, offset, body)
        return {"file": name, "size": size}

    @get("/uploads/{upload_id:str}", operation_id="inspect_grid_upload")
    async def inspect_upload(self, upload_id: FromPath[str]) -> list[dict]:
        """The uploaded files with their layers, fields and the importer's guesses."""
        return await uploads.inspect(upload_id)

    @post("/imports", status_code=201, operation_id="import_grid_generation")
    async def import_generation(self, data: JSONBody[schemas.ImportRequest]) -> schemas.ImportView:
        """Read the chosen files (same options and messages as `fengqiao grids import`) and store a new
        generation without activating it: look at the report and the map, then activate or discard."""
        result = await uploads.run_import(
            data.upload, data.network, [msgspec.to_builtins(layer) for layer in data.layers], data.lower
        )
        return schemas.ImportView(
            generation_id=result.generation_id,
            number=result.number,
            network=result.network,
            reused=result.reused,
            active=result.active,
            clean=result.clean,
            summary=result.summary(),
            carried=carried_lines(result.report),
            report=result.report,
        )


class CountyView(msgspec.Struct):
    code: str
    name: str
    bbox: tuple[float, float, float, float] | None  # min_lon, min_lat, max_lon, max_lat (WGS-84)


@get("/api/county", exclude_from_auth=True, operation_id="get_county", tags=["grids"])
async def get_county() -> CountyView:
    """The county this deployment serves: its name for the sign-in and home screens, and its box to
    frame a map before any grid is loaded. Public: nothing here is personal."""
    info = await county.require()
    return CountyView(code=info.code, name=info.name, bbox=info.bbox())


ROUTES: list[ControllerRouterHandler] = [GridsController, GridsAdminController, get_county]
