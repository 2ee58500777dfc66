"""`fengqiao grids ...` commands (the grids domain fills this group)."""

import click


@click.group()
def grids() -> None:
    """Grid networks: import boundaries, activate generations."""
