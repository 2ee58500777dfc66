"""HTTP routes of the grids domain."""

ROUTES: list = []
