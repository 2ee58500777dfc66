"""Piccolo configuration: one app whose tables live in the domain folders, one migration stream."""

from piccolo.conf.apps import AppRegistry

from backend.db import DB

__all__ = ["APP_REGISTRY", "DB"]

APP_REGISTRY = AppRegistry(apps=["backend.piccolo_app"])
