"""The migration plan per storage mode, and the two modes' SQL staying twins.

TimescaleDB cannot be installed on the build machines, so its SQL is checked
here only for what a plan and a parse can show.
"""
from __future__ import annotations

import re
from collections import Counter

from cloud.db.migrate import available, plan

_FUNCTION_RE = re.compile(r"CREATE FUNCTION (\w+)\(([^)]*)\)\s*RETURNS (.+?)\n\s*LANGUAGE", re.S)


def _labels(migrations):
    return [(m.version, m.mode) for m in migrations]


def test_timescale_plan_selects_timescale_files_and_shared_ones():
    chosen = plan(available(), "timescale", set())
    assert {m.mode for m in chosen} <= {None, "timescale"}
    assert (2, "timescale") in _labels(chosen) and (3, "timescale") in _labels(chosen)
    assert "CREATE EXTENSION IF NOT EXISTS timescaledb" in next(m.sql for m in chosen if m.version == 2)


def test_partitioned_plan_never_selects_timescale_files():
    chosen = plan(available(), "partitioned", set())
    assert {m.mode for m in chosen} <= {None, "partitioned"}
    assert (3, "partitioned") in _labels(chosen)
    code = [re.sub(r"--[^\n]*", "", m.sql).lower() for m in chosen]
    assert all("timescaledb" not in c and "hypertable" not in c for c in code)


def test_each_mode_runs_every_version_once_in_order():
    versions = sorted({m.version for m in available()})
    for mode in ("partitioned", "timescale"):
        chosen = [m.version for m in plan(available(), mode, set())]
        assert chosen == versions, mode


def test_every_mode_specific_migration_has_its_twin():
    modes_by_version: dict[int, list] = {}
    for m in available():
        modes_by_version.setdefault(m.version, []).append(m.mode)
    for version, modes in modes_by_version.items():
        assert sorted(modes, key=str) in ([None], ["partitioned", "timescale"]), f"{version:04d}: {modes}"


def test_plan_skips_applied_versions():
    assert [m.version for m in plan(available(), "timescale", {1, 2})][:1] == [3]


def _functions(version: int, mode: str) -> dict[str, tuple[str, str]]:
    sql = next(m.sql for m in available() if m.version == version and m.mode == mode)
    found = [(name, (" ".join(args.split()), " ".join(ret.split()))) for name, args, ret in _FUNCTION_RE.findall(sql)]
    assert not [n for n, c in Counter(n for n, _ in found).items() if c > 1]
    return dict(found)


def test_maintenance_api_has_the_same_signatures_in_both_modes():
    partitioned, timescale = _functions(3, "partitioned"), _functions(3, "timescale")
    api = ("gw_ensure_partitions", "gw_drop_expired_partitions", "gw_apply_policies", "gw_partition_report")
    for name in api:
        assert name in partitioned and partitioned[name] == timescale.get(name), name
    assert partitioned["gw_ensure_partitions"][0] == "days_back int, days_ahead int"
