"""The city's grid registry: coordinate systems, grid import and validation,
point-in-grid (GridIndex) and the `gridwatch grids|roster|calendar` commands."""
