"""HTTP routes of the cases domain."""

ROUTES: list = []
