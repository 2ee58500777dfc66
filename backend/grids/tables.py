"""Administrative divisions (county, township, village) by their 12-digit statistics codes.

Polygons belong to grid generations (the grids domain proper); divisions are the stable list of
areas that user scopes, teams and reports refer to.
"""

from piccolo.columns import Varchar
from piccolo.table import Table


class Division(Table, tablename="division"):
    code = Varchar(length=12, unique=True, index=True)
    name = Varchar(length=100)
    short_name = Varchar(length=100)
    level = Varchar(length=10, index=True)  # county | township | village
    parent_code = Varchar(length=12, null=True, default=None, index=True)
