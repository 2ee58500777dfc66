"""HTTP routes of the media domain."""

ROUTES: list = []
