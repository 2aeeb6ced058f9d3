"""Handset GPS as it is in a city: metres of scatter that wander, urban-canyon stretches with worse
fixes and larger reported accuracy, multipath outliers 50-150 m off that the receiver still
reports as good, and now and then a coarse network fix.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class NoiseModel:
    sigma_m: tuple[float, float] = (3.0, 7.0)        # per-axis scatter of a worker's phone in the open
    canyon_factor: float = 1.2                       # up to (1 + this) times worse in urban canyons
    outlier_rate: float = 0.015
    outlier_m: tuple[float, float] = (50.0, 150.0)
    network_rate: float = 0.003
    network_acc_m: tuple[float, float] = (500.0, 2000.0)


def _smooth(rng: np.random.Generator, n: int, width: int) -> np.ndarray:
    """Unit-variance noise correlated over about `width` samples."""
    raw = rng.standard_normal(n + width)
    out = np.convolve(raw, np.ones(width) / np.sqrt(width), mode="valid")[:n]
    return out


def apply(rng: np.random.Generator, xy: np.ndarray, model: NoiseModel) -> tuple[np.ndarray, np.ndarray]:
    """Noisy positions (n, 2) and the accuracies a phone would report, for true positions `xy`."""
    n = len(xy)
    sigma = rng.uniform(*model.sigma_m)
    canyon = 1.0 + model.canyon_factor * np.clip(_smooth(rng, n, 20) * 0.5 + 0.3, 0, 1)
    s = sigma * canyon
    # Half the error wanders slowly (multipath bias, satellites coming and going), half is white.
    err = np.column_stack([(_smooth(rng, n, 6) + rng.standard_normal(n)) * s / np.sqrt(2) for _ in range(2)])
    acc = np.round(np.clip(s * rng.uniform(1.3, 2.0, n), 3.0, 60.0), 1)
    out = rng.random(n) < model.outlier_rate
    k = int(out.sum())
    if k:
        ang = rng.uniform(0, 2 * np.pi, k)
        dist = rng.uniform(*model.outlier_m, k)
        err[out] = np.column_stack((np.cos(ang), np.sin(ang))) * dist[:, None]
    net = rng.random(n) < model.network_rate
    k = int(net.sum())
    if k:
        acc[net] = np.round(rng.uniform(*model.network_acc_m, k))
        err[net] = rng.normal(0, 1, (k, 2)) * acc[net][:, None] * 0.5
    return xy + err, acc


def still(rng: np.random.Generator, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A phone lying on a desk: fused indoor fixes with centimetres of jitter and one fixed accuracy."""
    acc = float(rng.choice([10.0, 12.0, 15.0, 20.0]))
    return xy + rng.normal(0, 0.25, xy.shape), np.full(len(xy), acc)
