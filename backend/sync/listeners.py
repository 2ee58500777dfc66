"""Case-change listeners of the sync domain (registered by backend.wiring.connect)."""
