"""Where frames come from: a video file (video time), or a live device or stream that reconnects.

Both answer `grab() -> t | None` (advance one frame, its time in seconds) and
`retrieve() -> frame | None` (decode the grabbed frame), so the agent decodes
only the frames it will look at. A file's time is its frame index over its
frame rate; a live source's is the clock since it started. A live source that
stops delivering (camera unplugged, RTSP server gone) is released and
reopened with a doubling back-off until `stop` is set; `reconnects` counts it.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

log = logging.getLogger(__name__)


class Capture(Protocol):
    """The part of cv2.VideoCapture the sources use (tests hand in their own)."""

    def isOpened(self) -> bool: ...
    def grab(self) -> bool: ...
    def retrieve(self) -> tuple[bool, Any]: ...
    def get(self, prop: int) -> float: ...
    def release(self) -> None: ...


Opener = Callable[[str | int], Capture]


class SourceError(OSError):
    """The source cannot be opened at all."""


def open_capture(target: str | int) -> Capture:
    return cv2.VideoCapture(target)


def parse_source(src: str) -> tuple[str, str | int]:
    """('file', path), ('device', index) or ('stream', url)."""
    if "://" in src:
        return "stream", src
    if src.isdigit():
        return "device", int(src)
    if not Path(src).is_file():
        raise SourceError(f"{src!r} is neither a video file, a device index nor a stream URL")
    return "file", src


class FileSource:
    live = False

    def __init__(self, path: str, opener: Opener = open_capture) -> None:
        self.cap = opener(path)
        if not self.cap.isOpened():
            raise SourceError(f"cannot open video file {path!r}")
        self.fps = self.cap.get(cv2.CAP_PROP_FPS) or 25.0
        self.frames = 0
        self.reconnects = 0

    def grab(self) -> float | None:
        if not self.cap.grab():
            return None
        self.frames += 1
        return (self.frames - 1) / self.fps

    def retrieve(self) -> np.ndarray | None:
        ok, frame = self.cap.retrieve()
        return frame if ok else None

    @property
    def seconds(self) -> float:
        return self.frames / self.fps

    def close(self) -> None:
        self.cap.release()


class LiveSource:
    live = True

    def __init__(self, target: str | int, stop: threading.Event, opener: Opener = open_capture,
                 backoff: tuple[float, float] = (0.5, 30.0), clock: Callable[[], float] = time.monotonic) -> None:
        self.target, self.stop, self.opener, self.backoff, self.clock = target, stop, opener, backoff, clock
        self.cap: Capture | None = None
        self.frames = 0
        self.reconnects = 0
        self._t0 = clock()
        self._last_t = 0.0
        self._opened_once = False

    def _open(self) -> bool:
        delay = self.backoff[0]
        while not self.stop.is_set():
            cap = self.opener(self.target)
            if cap.isOpened():
                if self._opened_once:
                    self.reconnects += 1
                    log.warning("camera source %s: reconnected (%d so far)", self._name, self.reconnects)
                self._opened_once = True
                self.cap = cap
                return True
            cap.release()
            log.warning("camera source %s: cannot open, retrying in %.1f s", self._name, delay)
            self.stop.wait(delay)
            delay = min(delay * 2, self.backoff[1])
        return False

    @property
    def _name(self) -> str:
        # An RTSP URL may carry credentials: log the host part only.
        return str(self.target).rsplit("@", 1)[-1] if isinstance(self.target, str) else f"device {self.target}"

    def grab(self) -> float | None:
        while not self.stop.is_set():
            if self.cap is None and not self._open():
                return None
            if self.cap.grab():
                self.frames += 1
                self._last_t = self.clock() - self._t0
                return self._last_t
            log.warning("camera source %s: stream dropped", self._name)
            self.cap.release()
            self.cap = None
        return None

    def retrieve(self) -> np.ndarray | None:
        if self.cap is None:
            return None
        ok, frame = self.cap.retrieve()
        return frame if ok else None

    @property
    def seconds(self) -> float:
        return self._last_t

    def close(self) -> None:
        if self.cap is not None:
            self.cap.release()
            self.cap = None
