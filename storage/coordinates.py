"""Coordinates on their way in: a point on Earth, or a clear refusal.

Every latitude and longitude that comes in (a location shared in /places or /checkin, a
places file) is checked here, once: infinities, NaN and numbers beyond the poles or the
antimeridian are refused rather than stored, searched with (NaN is "20,015 km" from
everything) or left to raise deep inside a computation.
"""

from __future__ import annotations

import math
from typing import Literal

Axis = Literal["latitude", "longitude"]

LIMITS: dict[Axis, float] = {"latitude": 90.0, "longitude": 180.0}


class CoordinateError(ValueError):
    """A latitude or longitude that is no place on Earth; reason names which."""

    def __init__(self, reason: Axis, value: float) -> None:
        limit = LIMITS[reason]
        shown = f"{value:g}" if math.isfinite(value) else str(value)
        super().__init__(f"{reason} {shown} is not a number within -{limit:g}…{limit:g}")
        self.reason: Axis = reason
        self.value = value


def check_coordinate(axis: Axis, value: float) -> float:
    """value if it is a finite latitude (±90) or longitude (±180), else CoordinateError."""
    if not (math.isfinite(value) and -LIMITS[axis] <= value <= LIMITS[axis]):
        raise CoordinateError(axis, value)
    return value


def check_point(latitude: float, longitude: float) -> tuple[float, float]:
    """The point, if both numbers are on Earth; else CoordinateError for the first that is not."""
    return check_coordinate("latitude", latitude), check_coordinate("longitude", longitude)
