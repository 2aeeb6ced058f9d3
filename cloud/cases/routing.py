"""Who owns a case: the component's department, else the catalog's, else the grid's
territorial body (CONTRACT section 4).

A component named by the message (a sensor mounted on it) always decides. A
component found by place, or registered under the reporting device's id (a
camera), decides only when its kind is one the catalog lists for the case's
kind: a garbage pile next to a manhole cover is still sanitation's.
"""
from __future__ import annotations

from dataclasses import dataclass

from .catalog import Catalog
from .components import Component, ComponentIndex
from .intake import Sighting
from .places import GridPlaces


@dataclass(frozen=True, slots=True)
class Route:
    department: str
    routed_by: str              # component | catalog | territory | fallback
    component: str | None = None


@dataclass(frozen=True)
class Router:
    catalog: Catalog
    components: ComponentIndex
    places: GridPlaces
    radius_m: float = 15.0
    territorial_suffix: str = " office"
    fallback_department: str = "supervision centre"

    def component_for(self, s: Sighting) -> Component | None:
        if s.component and s.component in self.components.by_code:
            return self.components.by_code[s.component]
        kinds = self.catalog.kinds[s.kind].component_kinds
        own = self.components.by_code.get(s.dev)
        if own is not None and own.kind in kinds:
            return own
        if s.lat is None or s.lon is None:
            return None
        return self.components.nearest(s.lat, s.lon, self.radius_m, kinds)

    def route(self, s: Sighting, grid: str | None) -> Route:
        comp = self.component_for(s)
        if comp is not None:
            return Route(comp.department, "component", comp.code)
        department = self.catalog.kinds[s.kind].department
        if department:
            return Route(department, "catalog")
        body = self.places.territorial_body(grid, self.territorial_suffix)
        if body:
            return Route(body, "territory")
        return Route(self.fallback_department, "fallback")
