"""A JPEG of the frame with the detection's box drawn, within the contract's 200 KiB."""
from __future__ import annotations

import base64

import cv2
import numpy as np

from protocols.models import MAX_SNAPSHOT_BYTES

COLOURS = {"fire": (0, 0, 255), "smoke": (160, 160, 160), "crowd": (255, 0, 255), "camera_tamper": (0, 255, 255),
           "waterlogging": (255, 128, 0), "garbage": (0, 200, 0), "obstruction": (0, 128, 255)}


def snapshot(frame: np.ndarray, box: tuple[float, float, float, float], label: str, kind: str,
             quality: int = 80, limit: int = MAX_SNAPSHOT_BYTES) -> str:
    """Base64 JPEG of `frame` with `box` (normalised) and `label`; quality, then size, drop until it fits."""
    h, w = frame.shape[:2]
    img = frame.copy()
    x, y, bw, bh = box
    p0, p1 = (int(x * w), int(y * h)), (int((x + bw) * w) - 1, int((y + bh) * h) - 1)
    colour = COLOURS.get(kind, (0, 255, 0))
    cv2.rectangle(img, p0, p1, colour, 2)
    cv2.putText(img, label, (p0[0] + 3, max(14, p0[1] - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.5, colour, 1, cv2.LINE_AA)
    while True:
        ok, jpeg = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:
            raise ValueError("JPEG encoding failed")
        if len(jpeg) <= limit:
            return base64.b64encode(jpeg.tobytes()).decode("ascii")
        if quality > 40:
            quality -= 15
        else:
            img = cv2.resize(img, (img.shape[1] * 3 // 4, img.shape[0] * 3 // 4), interpolation=cv2.INTER_AREA)
