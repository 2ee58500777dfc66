"""Demo grid data for Fengqiao (枫桥网格通): the 昌宁县 demo set and its deterministic generator.

See ``grids/changning/README.md``. Regenerate with ``python -m grids.generate`` from the repo root.
"""
