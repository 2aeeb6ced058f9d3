"""Scenario files: TOML or JSON, unknown keys and behaviours refused; `gridwatch sim --tracks-only`
writes grids, roster and truth that agree with each other."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from pydantic import ValidationError

from gridwatch.cli import main
from gwsim.scenario import load_scenario

TOML = """
seed = 2
day = "2026-11-20"
workers = 5
[city]
rows = 1
cols = 2
[mix]
diligent = 1
late = 1
"""


def test_a_typo_in_a_scenario_fails_before_anything_runs(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(TOML.replace("workers", "wokers"))
    with pytest.raises(ValidationError, match="wokers"):
        load_scenario(path)
    path.write_text(TOML.replace("late = 1", "lazy = 1"))
    with pytest.raises(ValidationError, match="unknown behaviours"):
        load_scenario(path)
    js = tmp_path / "s.json"
    js.write_text(json.dumps({"day": "2026-11-20", "city": {"rows": 1, "colls": 2}}))
    with pytest.raises(ValidationError, match="colls"):
        load_scenario(js)


def test_sim_tracks_only_writes_consistent_files(tmp_path, capsys):
    path = tmp_path / "s.toml"
    path.write_text(TOML)
    out = tmp_path / "out"
    assert main(["sim", "--scenario", str(path), "--out", str(out), "--tracks-only"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["workers"] == 5
    roster = list(csv.DictReader((out / "roster.csv").read_text().splitlines()))
    truth = json.loads((out / "truth.json").read_text())["shifts"]
    grids = {f["properties"]["code"] for f in json.loads((out / "grids.geojson").read_text())["features"]}
    assert [r["worker"] for r in roster] == [t["worker"] for t in truth]
    assert {r["grid"] for r in roster} <= grids and roster[0]["start"] == "08:30"
    assert {t["verdict"] for t in truth} == {"present", "late"}
    assert truth[0]["start"] == "2026-11-20T00:30:00Z"     # 08:30 Asia/Shanghai
    with np.load(out / "tracks.npz") as arrays:
        assert len(arrays["t"]) == summary["fixes"] == len(arrays["dev_index"])
    assert main(["sim", "--scenario", str(tmp_path / "missing.toml"), "--tracks-only"]) == 2
