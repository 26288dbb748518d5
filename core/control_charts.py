"""Shewhart control charts for KPI series: p-chart, XmR (individuals and moving range), Western Electric rules.

Pure functions on sequences of numbers; each returns one row per point with the value, its
centre line, its lower and upper control limit and the Western Electric rules the point breaks.

* **p-chart** (fraction nonconforming, here: share of lines that are not OTIF or, read the
  other way, that are): centre p̄ = Σx / Σn over all points, or a standard value p₀ when
  given; limits p̄ ± 3 sqrt(p̄(1 - p̄) / n_i) per point, so they widen for small periods and
  narrow for large ones, clipped to [0, 1]. Montgomery, *Introduction to Statistical Quality
  Control*, ch. 7 (the control chart for fraction nonconforming; variable sample size).
* **XmR chart** (individuals and moving range), for KPIs with no natural count behind them
  (order cycle time, fill rate as a quantity share): moving ranges MR_i = |x_i - x_{i-1}|,
  MR̄ their mean; X chart centre x̄, limits x̄ ± 2.66 MR̄ (2.66 = 3 / d₂, d₂ = 1.128 for
  ranges of two); MR chart centre MR̄, upper limit 3.267 MR̄ (D₄ for n = 2), lower limit 0.
  Montgomery, ch. 6 (control charts for individual measurements); Wheeler & Chambers,
  *Understanding Statistical Process Control* (natural process limits).
* **Western Electric rules** (Western Electric, *Statistical Quality Control Handbook*, 1956;
  Montgomery §5.3.6), on z = (value - centre) / sigma, sigma per point:

  1. one point beyond 3 sigma;
  2. two of three successive points beyond 2 sigma on the same side;
  3. four of five successive points beyond 1 sigma on the same side;
  4. eight successive points on the same side of the centre line.

  A point is flagged with a rule when it completes the pattern and is itself part of it
  (beyond the zone, on that side); near the start of the series the window holds the points
  there are (two points beyond 2 sigma at points 1 and 2 already break rule 2). A point with
  no value (NaN) or no sigma is in no zone and breaks any run.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from core.errors import SegplanError

#: X chart limit factor 3 / d2 (d2 = 1.128 for moving ranges of two) and MR chart upper factor D4.
XMR_LIMIT_FACTOR = 2.66
MR_UCL_FACTOR = 3.267
#: The Western Electric rules, numbered as returned in ``rules``.
WESTERN_ELECTRIC_RULES = {
    1: "one point beyond 3 sigma",
    2: "2 of 3 points beyond 2 sigma on the same side",
    3: "4 of 5 points beyond 1 sigma on the same side",
    4: "8 points in a row on the same side of the centre",
}
_WINDOWS = ((2, 3, 2.0), (3, 5, 4.0))  # (rule, window length, points needed) with the zone = 2 or 1 sigma


def _array(values: Sequence[float] | np.ndarray | pd.Series, name: str) -> np.ndarray:
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise SegplanError(f"{name} must be numbers", hint="pass a list or column of numbers") from exc
    if array.ndim != 1:
        raise SegplanError(f"{name} must be one series of numbers, not a table", hint="pass one column")
    return array


def _per_point(value: float | Sequence[float] | np.ndarray, name: str, points: int) -> np.ndarray:
    """One number or one per point, as an array of ``points`` numbers."""
    array = _array(np.atleast_1d(value), name)
    if len(array) == 1:
        return np.full(points, array[0])
    if len(array) != points:
        raise SegplanError(f"{name} has {len(array)} values for {points} points", hint="give one per point or one in all")
    return array


def western_electric(values: Sequence[float] | np.ndarray | pd.Series,
                     centre: float | Sequence[float] | np.ndarray,
                     sigma: float | Sequence[float] | np.ndarray) -> list[str]:
    """The Western Electric rules (1-4) each point breaks, as text: ``""``, ``"1"``, ``"2,4"``...

    ``centre`` and ``sigma`` are one number or one per point (a p-chart's sigma varies with n).
    Western Electric *Statistical Quality Control Handbook* (1956); Montgomery §5.3.6.
    """
    x = _array(values, "values")
    c = _per_point(centre, "centre", len(x))
    s = _per_point(sigma, "sigma", len(x))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(s > 0, (x - c) / s, np.nan)
    rules: list[list[int]] = [[] for _ in range(len(x))]
    for i in range(len(x)):
        zi = z[i]
        if math.isnan(zi):
            continue
        if abs(zi) > 3:
            rules[i].append(1)
        side = 1.0 if zi > 0 else -1.0 if zi < 0 else 0.0
        for rule, length, needed in _WINDOWS:
            zone = 2.0 if rule == 2 else 1.0
            if side and side * zi > zone:
                window = z[max(0, i - length + 1): i + 1]
                if np.sum(side * window > zone) >= needed:  # NaN compares False
                    rules[i].append(rule)
        if side and i >= 7 and np.all(side * z[i - 7: i + 1] > 0):
            rules[i].append(4)
    return [",".join(str(r) for r in point) for point in rules]


def p_chart(successes: Sequence[float] | np.ndarray | pd.Series, n: Sequence[float] | np.ndarray | pd.Series,
            *, p_standard: float | None = None) -> pd.DataFrame:
    """A p-chart of ``successes`` out of ``n`` per point, limits varying with n (Montgomery ch. 7).

    ``successes`` count what the chart's share counts (OTIF lines, nonconforming cans); the
    chart is symmetric, so either reading works. Centre p̄ = Σ successes / Σ n, or
    ``p_standard`` when a standard value is given. Per point: ``successes``, ``n``, ``value``
    = successes / n, ``centre``, ``sigma`` = sqrt(p̄(1 - p̄) / n), ``lcl`` and ``ucl`` = centre
    ∓ 3 sigma clipped to [0, 1], ``rules`` (Western Electric, per-point sigma). A point with
    n = 0 has no value and no limits. ``attrs["centre"]`` holds p̄.
    """
    x = _array(successes, "successes")
    size = _array(n, "n")
    if x.shape != size.shape:
        raise SegplanError(f"successes has {len(x)} points and n {len(size)}", hint="give one n per point")
    if np.any(size < 0) or np.any(x < 0) or np.any(x > size):
        raise SegplanError("each point needs 0 <= successes <= n", hint="check the counts behind the share")
    if p_standard is not None and not 0 <= p_standard <= 1:
        raise SegplanError(f"p_standard {p_standard} is not a share", hint="give a value between 0 and 1")
    total = size.sum()
    centre = float(p_standard) if p_standard is not None else (float(x.sum() / total) if total > 0 else math.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.where(size > 0, x / size, np.nan)
        sigma = np.where(size > 0, np.sqrt(centre * (1 - centre) / size), np.nan)
    frame = pd.DataFrame({
        "successes": x, "n": size, "value": value, "centre": centre, "sigma": sigma,
        "lcl": np.clip(centre - 3 * sigma, 0.0, 1.0), "ucl": np.clip(centre + 3 * sigma, 0.0, 1.0),
    })
    frame["rules"] = western_electric(value, centre, sigma)
    frame.attrs["centre"] = centre
    return frame


def xmr_chart(values: Sequence[float] | np.ndarray | pd.Series) -> pd.DataFrame:
    """Individuals and moving range chart of ``values`` (Montgomery ch. 6; Wheeler & Chambers).

    Per point: ``value``, ``centre`` = mean, ``lcl``/``ucl`` = mean ∓ 2.66 MR̄, ``sigma`` =
    2.66 MR̄ / 3 (= MR̄ / d₂), ``moving_range`` (NaN at the first point), ``mr_centre`` = MR̄,
    ``mr_ucl`` = 3.267 MR̄, ``mr_beyond_ucl``, ``rules`` (Western Electric on the X chart).
    Points with no value (NaN) are left out of the mean and the moving ranges, which join the
    values either side of them. ``attrs`` hold ``centre`` and ``mr_centre``.
    """
    x = _array(values, "values")
    known = x[~np.isnan(x)]
    if len(known) < 2:
        raise SegplanError(f"an XmR chart needs at least 2 values, got {len(known)}",
                           hint="choose a longer span or a shorter bucket")
    mean = float(known.mean())
    ranges = np.abs(np.diff(known))
    mr_bar = float(ranges.mean())
    moving_range = np.full(x.shape, np.nan)
    moving_range[np.flatnonzero(~np.isnan(x))[1:]] = ranges
    sigma = XMR_LIMIT_FACTOR * mr_bar / 3
    frame = pd.DataFrame({
        "value": x, "centre": mean, "sigma": sigma,
        "lcl": mean - XMR_LIMIT_FACTOR * mr_bar, "ucl": mean + XMR_LIMIT_FACTOR * mr_bar,
        "moving_range": moving_range, "mr_centre": mr_bar, "mr_ucl": MR_UCL_FACTOR * mr_bar,
    })
    frame["mr_beyond_ucl"] = frame["moving_range"] > frame["mr_ucl"]
    frame["rules"] = western_electric(x, mean, sigma)
    frame.attrs.update(centre=mean, mr_centre=mr_bar)
    return frame
