"""The pure track generator: realistic noise, the behaviours it claims, a valid grid city."""
from __future__ import annotations

import numpy as np

from gwsim.city import City
from gwsim.tracks import fleet_specs, generate

START, END = 1_795_134_600.0, 1_795_167_000.0


def _city():
    return City.synthetic((31.23, 121.47), 3, 3, 400.0, 0.12, np.random.default_rng(2))


def _track(behaviour, seed=3):
    city = _city()
    spec = next(s for s in fleet_specs(city, 60, {behaviour: 1.0}, START, END, seed))
    return city, spec, *generate(spec, city, START - 3600, END + 3600)


def test_the_city_tiles_into_grids_inside_streets_inside_one_district():
    fc = _city().geojson()
    levels = [f["properties"]["level"] for f in fc["features"]]
    assert levels.count("grid") == 9 and levels.count("street") == 3 and levels.count("district") == 1
    parents = {f["properties"]["code"]: f["properties"]["parent"] for f in fc["features"]}
    assert [c for c, p in parents.items() if p is None] == ["D01"]
    assert all(p in parents for p in parents.values() if p is not None)


def test_noise_is_metres_of_scatter_with_rare_outliers_and_varying_accuracy():
    city, spec, track, plan = _track("diligent")
    assert len(track) == int((END - START + 7200) // 30) + 1
    true_xy = plan.positions(track.true_t)
    lat0, lon0 = city.frame.to_deg(true_xy[:, 0], true_xy[:, 1])
    err = np.hypot((track.lat - lat0) * city.frame.ky, (track.lon - lon0) * city.frame.kx)
    assert 4 < np.median(err) < 16
    assert 0.003 < np.mean((err > 50) & (track.acc < 100)) < 0.05   # multipath: far off, "good" accuracy
    assert len(np.unique(track.acc)) > 50


def test_quirks_show_in_the_fixes():
    *_, t, _ = _track("mock_location")
    assert t.mock.all()
    *_, t, plan = _track("gps_off")
    assert np.diff(t.t).max() > 25 * 60
    *_, t, plan = _track("outage")
    held = t.received - t.t > 30
    assert held.sum() >= 60 and np.ptp(t.received[held]) < 60     # one burst at reconnect
    *_, t, plan = _track("clock_skew")
    assert abs(np.median(t.received - t.t)) > 600


def test_a_large_jittered_city_passes_the_grid_importers_checks():
    from cloud.geo.gridfile import parse_grid_file

    city = City.synthetic((31.23, 121.47), 8, 10, 400.0, 0.2, np.random.default_rng(5))
    features = parse_grid_file(city.geojson())  # raises GridFileError naming any feature at fault
    assert sum(f.level == "grid" for f in features) == 80
