"""Case-change listeners of the notify domain (registered by backend.wiring.connect)."""
