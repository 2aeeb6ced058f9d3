"""The files a simulation leaves: the city's grids (GeoJSON), the roster (CSV) and the ground truth
(JSON), in CONTRACT section 5 formats, so `gridwatch grids import` and `roster import` take them."""
from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timezone
from pathlib import Path

from .city import City
from .scenario import Scenario


def roster_csv(scenario: Scenario, specs) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["worker", "device", "grid", "date", "start", "end", "tz"])
    for s in specs:
        w.writerow([s.worker, s.dev, s.grid.code, scenario.day.isoformat(), scenario.start.strftime("%H:%M"),
                    scenario.end.strftime("%H:%M"), scenario.tz])
    return out.getvalue()


def write_outputs(out_dir: Path, scenario: Scenario, city: City, specs, truths: list[dict]) -> dict[str, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"grids": out_dir / "grids.geojson", "roster": out_dir / "roster.csv", "truth": out_dir / "truth.json"}
    paths["grids"].write_text(json.dumps(city.geojson()), "utf-8")
    paths["roster"].write_text(roster_csv(scenario, specs), "utf-8")
    iso = lambda t: datetime.fromtimestamp(t, timezone.utc).isoformat().replace("+00:00", "Z")  # noqa: E731
    doc = {"scenario": scenario.model_dump(mode="json"),
           "shifts": [{**t, "day": scenario.day.isoformat(), "start": iso(t["start"]), "end": iso(t["end"])}
                      for t in truths]}
    paths["truth"].write_text(json.dumps(doc, indent=1), "utf-8")
    return paths
