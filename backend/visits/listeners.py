"""Case-change listeners of the visits domain (registered by backend.wiring.connect)."""
