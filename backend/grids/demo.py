"""Loads the Changning demo grid set (grids/changning/*.geojson). Filled in by the grids work."""


async def load_demo_grids() -> dict[str, int]:
    return {}
