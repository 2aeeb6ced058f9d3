"""A plain (non-editable) install ships every package and data file the code needs."""
from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ROOTS = {"cloud": "cloud", "edge": "edge", "protocols": "protocols", "gridwatch": "gridwatch",
         "gwsim": "firmware-sim/gwsim"}


def test_every_python_package_folder_is_listed_in_pyproject():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = set()
    for name, folder in ROOTS.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder).parts
            found.add(".".join((name, *rel)))
    assert found - listed == set(), "add these to [tool.setuptools] packages"


def test_package_data_globs_match_files():
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    for package, globs in data.items():
        folder = ROOT / (ROOTS[package] if package in ROOTS else package.replace(".", "/"))
        for pattern in globs:
            assert list(folder.glob(pattern)), f"{package}: {pattern} matches nothing"
