"""Exponentially decayed interest vectors in event time. Pure numpy.

A decayed sum keeps ``S(T) = sum_i w_i * x_i * 2 ** (-(T - t_i) / h)`` and the matching weight
``W(T) = sum_i w_i * 2 ** (-(T - t_i) / h)`` at a reference time ``T``, the latest event time
seen. A late event (``t < T``) is added already decayed, so the result does not depend on the
order events arrive in: replays and out-of-order delivery give the same state.

>>> d = DecayedVector.empty(2)
>>> d = d.add(np.array([1.0, 0.0]), weight=1.0, ts_ms=0, half_life_ms=1000)
>>> d = d.add(np.array([0.0, 1.0]), weight=1.0, ts_ms=1000, half_life_ms=1000)
>>> d.total.round(3).tolist(), round(d.weight, 3), d.ref_ms
([0.5, 1.0], 1.5, 1000)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Vector = npt.NDArray[np.float32]


def norm(x: npt.NDArray[np.floating]) -> float:
    """``float(np.linalg.norm(x))`` of a 1-d float vector without its checks and dispatch (a
    few microseconds a call, several calls per event): the same computation, the square root
    of ``x . x`` in ``x``'s own precision, so the same bits. By ``np.vdot`` (``dot``'s kernel,
    the same bits), which keeps the GIL: ``x.dot(x)`` gives it up around the BLAS call and
    must take it back, which beside a thread running Python (the worker's event loop) cost
    85 us a call against 0.5 (README, "Waiting for the GIL, and two waits removed")."""
    return float(np.sqrt(np.vdot(x, x)))


def dot(x: npt.NDArray[np.floating], y: npt.NDArray[np.floating]) -> float:
    """``float(np.dot(x, y))`` of two 1-d float vectors, keeping the GIL (see ``norm``): the
    same bits, but that a zero may come out with the other sign."""
    return float(np.vdot(x, y))


def decay(dt_ms: float, half_life_ms: float) -> float:
    return float(2.0 ** (-dt_ms / half_life_ms))


@dataclass(frozen=True, slots=True)
class DecayedVector:
    total: Vector
    weight: float
    ref_ms: int

    @classmethod
    def empty(cls, dim: int) -> DecayedVector:
        return cls(np.zeros(dim, dtype=np.float32), 0.0, 0)

    @property
    def is_empty(self) -> bool:
        return self.weight <= 0.0 or not self.total.any()

    def add(self, x: Vector, weight: float, ts_ms: int, half_life_ms: float) -> DecayedVector:
        x = np.asarray(x, dtype=np.float32)
        if self.weight == 0.0 and not self.total.any():
            return DecayedVector((weight * x).astype(np.float32), weight, ts_ms)
        if ts_ms >= self.ref_ms:
            f = decay(ts_ms - self.ref_ms, half_life_ms)
            total = self.total * np.float32(f) + np.float32(weight) * x
            return DecayedVector(total.astype(np.float32), self.weight * f + weight, ts_ms)
        g = decay(self.ref_ms - ts_ms, half_life_ms)
        total = self.total + np.float32(weight * g) * x
        return DecayedVector(total.astype(np.float32), self.weight + weight * g, self.ref_ms)

    def at(self, ts_ms: int, half_life_ms: float) -> DecayedVector:
        """The state decayed forward to ``ts_ms`` (never backwards)."""
        if ts_ms <= self.ref_ms:
            return self
        f = decay(ts_ms - self.ref_ms, half_life_ms)
        return DecayedVector(
            (self.total * np.float32(f)).astype(np.float32), self.weight * f, ts_ms
        )

    def direction(self) -> Vector:
        """Unit vector of the interest (zeros when empty)."""
        length = norm(self.total)
        if length == 0.0:
            return np.zeros_like(self.total)
        return (self.total / np.float32(length)).astype(np.float32)


def reference(
    xs: npt.NDArray[np.floating],
    weights: list[float],
    ts_ms: list[int],
    at_ms: int,
    half_life_ms: float,
) -> tuple[Vector, float]:
    """The decayed sum and weight of a whole history at ``at_ms``, computed directly."""
    factors = np.array(
        [w * 2.0 ** (-(at_ms - t) / half_life_ms) for w, t in zip(weights, ts_ms, strict=True)]
    )
    return (factors[:, None] * np.asarray(xs, dtype=np.float64)).sum(axis=0).astype(
        np.float32
    ), float(factors.sum())


def blend(short: DecayedVector, long: DecayedVector, short_share: float) -> Vector:
    """Unit query vector mixing session intent and long-term taste."""
    mix = short_share * short.direction() + (1.0 - short_share) * long.direction()
    length = norm(mix)
    return (mix / np.float32(length)).astype(np.float32) if length > 0 else mix.astype(np.float32)
