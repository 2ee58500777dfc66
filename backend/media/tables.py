"""Photos, stored once under their content hash (the media domain owns this module)."""
