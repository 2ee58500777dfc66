"""The Changning demo: real divisions and codes, synthetic boundaries, teams and accounts (loader.py,
grids.py) and a plausible year of cases (history.py). Never loaded into a real deployment."""
