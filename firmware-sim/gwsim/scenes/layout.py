"""The street every synthetic camera looks at: 768x576, bands from top to bottom.

    0..170    building facades (windows) and a strip of sky
    170..230  far sidewalk
    230..430  two-lane road (asphalt blotches, dashed centre line)
    430..576  near sidewalk (paving joints); its left part is a walkway,
              its right part a no-dumping corner

`camera_layout()` is that layout as a camera configuration (plain data, the
shape of the edge camera's TOML file), so tests and the bench watch the same
zones the scenes inject into.
"""
from __future__ import annotations

from typing import Any

FRAME_W, FRAME_H = 768, 576
SKY = (0, 40)
BUILDINGS = (40, 170)
FAR_WALK = (170, 230)
ROAD = (230, 430)
NEAR_WALK = (430, 576)
LANES = ((300, 360), (365, 425))      # y of car bodies, far and near lane
NO_DUMPING_X = 560                    # near sidewalk right of this is no-dumping

WALKWAY_POLY = [(0, 436), (NO_DUMPING_X - 10, 436), (NO_DUMPING_X - 10, 575), (0, 575)]
NO_DUMPING_POLY = [(NO_DUMPING_X, 436), (767, 436), (767, 575), (NO_DUMPING_X, 575)]
ROADWAY_POLY = [(0, 236), (767, 236), (767, 428), (0, 428)]

# Person height in pixels where their feet are, near and far sidewalk.
PERSON_H_NEAR = 92
PERSON_H_FAR = 52


def camera_layout(cam: str | None = None) -> dict[str, Any]:
    """A camera configuration for this street (TOML/JSON-shaped dict)."""
    cfg: dict[str, Any] = {
        "zones": [
            {"name": "walkway", "type": "walkway", "polygon": [list(p) for p in WALKWAY_POLY],
             "kinds": ["obstruction", "crowd"], "dwell_s": 20, "crowd_limit": 6, "crowd_dwell_s": 8,
             "person_height_px": PERSON_H_NEAR},
            {"name": "no-dumping", "type": "no_dumping", "polygon": [list(p) for p in NO_DUMPING_POLY],
             "kinds": ["garbage"], "dwell_s": 20, "person_height_px": PERSON_H_NEAR},
            {"name": "roadway", "type": "roadway", "polygon": [list(p) for p in ROADWAY_POLY],
             "kinds": ["waterlogging"], "dwell_s": 15},
        ],
    }
    if cam is not None:
        cfg["cam"] = cam
    return cfg
