"""Tables of the grids domain.

`Division` is the stable list of administrative areas (county, township, village) by their 12-digit
statistics codes that user scopes, teams and reports refer to.

Polygons live in grid networks and their generations (MapIt's pattern): a network is a set of
polygons (the primary 综治网格 nested township → village → grid, or an overlay such as 党建网格); each
import makes a new generation; exactly one generation per network is active, and each case keeps the
generation it was located in. Geometry is stored as WKB (hex text) in WGS-84 lon/lat, with bbox
columns and the area in km², so the same schema works on SQLite and on PostgreSQL without PostGIS.
"""

from piccolo.columns import (
    Boolean,
    DoublePrecision,
    ForeignKey,
    Integer,
    OnDelete,
    Serial,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class Division(Table, tablename="division"):
    id: Serial  # the primary key Piccolo adds; declared for the type checker
    code = Varchar(length=12, unique=True, index=True)
    name = Varchar(length=100)
    short_name = Varchar(length=100)
    level = Varchar(length=10, index=True)  # county | township | village
    parent_code = Varchar(length=12, null=True, default=None, index=True)


class County(Table, tablename="county"):
    """The county this deployment serves: one row, written by `fengqiao init` (origin "init") or by
    the demo (origin "demo"). Its code and name also sit in `Division` (level county) for scopes."""

    id: Serial
    code = Varchar(length=12, unique=True)
    name = Varchar(length=100)
    # Case numbers are "{prefix}{township9}-{year}-{serial}"; a case outside every township uses the
    # county's own 9-digit code in place of the township's.
    case_prefix = Varchar(length=16, default="")
    outline_wkb = Text(null=True, default=None)  # WKB hex, WGS-84; imports are checked against it
    origin = Varchar(length=8)  # init | demo
    created_at = Timestamptz(default=TimestamptzNow())


class GridNetwork(Table, tablename="grid_network"):
    """A set of polygons. Exactly one network is `primary` (locate's township/village/grid);
    the others are overlays reported alongside it."""

    id: Serial
    code = Varchar(length=32, unique=True, index=True)
    name = Varchar(length=100)
    kind = Varchar(length=10)  # primary | overlay
    # The levels from coarse to fine, comma-separated, e.g. "township,village,grid".
    levels = Varchar(length=200)
    created_at = Timestamptz(default=TimestamptzNow())


class GridGeneration(Table, tablename="grid_generation"):
    """One import (or a set of imports staged together) of a network: a complete snapshot of it."""

    id: Serial
    network = ForeignKey(references=GridNetwork, on_delete=OnDelete.cascade, index=True)
    number = Integer()  # 1, 2, ... within the network
    # The levels this generation holds, comma-separated (levels not imported are carried forward).
    levels = Varchar(length=200)
    source = Text()  # file names and options, for people
    checksum = Varchar(length=64, index=True)  # sha256 of the source bytes and the import options
    report = Text(default="{}")  # the topology report, JSON
    clean = Boolean(default=False)
    active = Boolean(default=False, index=True)
    imported_at = Timestamptz(default=TimestamptzNow())
    activated_at = Timestamptz(null=True, default=None)
    note = Varchar(length=200, null=True, default=None)


class GridRegion(Table, tablename="grid_region"):
    """One polygon of a generation: a township, village, grid cell or overlay cell."""

    id: Serial
    generation = ForeignKey(references=GridGeneration, on_delete=OnDelete.cascade, index=True)
    level = Varchar(length=16)
    code = Varchar(length=32, index=True)
    name = Varchar(length=100)
    parent_code = Varchar(length=32, null=True, default=None)
    geometry_wkb = Text()  # WKB hex, WGS-84 lon/lat, Polygon or MultiPolygon
    min_lon = DoublePrecision()
    min_lat = DoublePrecision()
    max_lon = DoublePrecision()
    max_lat = DoublePrecision()
    area_km2 = DoublePrecision()
    properties = Text(default="{}")  # the remaining attributes of the source feature, JSON
