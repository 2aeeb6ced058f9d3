"""The cloud's case rules for the truth of `gridwatch sim` incidents: deadlines from the
cloud's catalog and working calendar, and the territorial body of a place in the synthetic city.

Imported only when a scenario injects incidents: it needs the cloud package
(`gridwatch[cloud]`), which a simulator-only install does not have. The calendar
here has no holidays (those live in the cloud's database): on a holiday the
cloud's deadline is later than the truth says.
"""
from __future__ import annotations

from datetime import datetime

import numpy as np

from .city import City
from .incidents import Rules


def cloud_rules(city: City, settings) -> Rules:
    from cloud.cases.calendar import due_at, make_calendar
    from cloud.cases.catalog import load_catalog

    catalog = load_catalog(settings.cases_catalog_file)
    calendar = make_calendar(settings.cases_working_periods, settings.cases_timezone)

    def deadline(kind: str, opened: datetime) -> datetime:
        spec = catalog.kinds[kind]
        return due_at(opened, spec.sla_hours, spec.round_the_clock, calendar)

    def territory(lat: float, lon: float) -> str:
        street = street_at(city, lat, lon)
        if street is None:
            return settings.cases_fallback_department
        return f"{street}{settings.cases_territorial_suffix}"

    return Rules(deadline, territory)


def street_at(city: City, lat: float, lon: float) -> str | None:
    """The street (grid name as `gwsim.city` writes it) whose grid contains the point, if any."""
    f = city.frame
    p = np.array([(lon - f.lon0) * f.kx, (lat - f.lat0) * f.ky])
    for n, grid in enumerate(city.grids):
        if inside_convex(grid.corners, p):
            return city.street(n // city.cols)
    return None


def inside_convex(corners: np.ndarray, p: np.ndarray) -> bool:
    """Is `p` inside (or on) the counter-clockwise convex polygon `corners`?"""
    edges = np.roll(corners, -1, axis=0) - corners
    rel = p - corners
    return bool(np.all(edges[:, 0] * rel[:, 1] - edges[:, 1] * rel[:, 0] >= 0))


def city_centre(city: City) -> tuple[float, float]:
    x, y = city.vertices.reshape(-1, 2).mean(axis=0)
    lat, lon = city.frame.to_deg(x, y)
    return float(lat), float(lon)
