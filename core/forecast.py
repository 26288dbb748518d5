"""Demand forecasts per item, with the method chosen by demand pattern or given by the policy.

Input is one long table, as `core.features.bucket_demand` returns it: key columns (e.g.
``product_id``), ``bucket_start`` and ``demand_quantity``, one row per item and bucket with
empty buckets as 0 and no gaps. Any other column (``order_lines``) is ignored.

Methods (batched over items in `core.forecast_methods`)
    ``ses``           simple exponential smoothing (FPP3 8.1)
    ``holt``          Holt's linear trend (FPP3 8.2)
    ``holt_winters``  additive Holt-Winters (FPP3 8.3), fitted by statsmodels
    ``croston``       Croston (1972), initialised as R ``forecast::croston``
    ``sba``           Syntetos-Boylan approximation (Syntetos & Boylan 2005)
    ``tsb``           Teunter, Syntetos & Babai (2011)
    ``zero``          no demand in the history: forecast 0
    ``mean``          fallback only: mean demand per bucket of the history

``auto`` chooses per item by its SBC demand pattern (Syntetos, Boylan & Croston 2005):
smooth -> Holt-Winters when the seasonality test (`core.forecast_methods.seasonal`) says so and
there are at least two seasons of history, else SES; erratic -> SES; intermittent -> SBA
(Syntetos & Boylan 2005 show SBA removes Croston's bias, and SBC recommend it in the
intermittent quadrant); lumpy -> TSB (Teunter et al. 2011: it updates the demand probability
every period, so the forecast falls when demand stops, the obsolescence risk that lumpy
items carry; SBA's forecast would stay at its last value); no_demand -> zero. Patterns come
from ``patterns`` (the ``classify`` frame: key columns + ``demand_pattern``) when given, else
from the history itself with the same rules as `core.classify` (ADI and CV² of the series).

Smoothing parameters: ``alpha`` fixes the level (SES, Holt, Holt-Winters), the common alpha of
Croston and SBA, and both alpha and beta of TSB. Else each item's parameters are chosen on a
grid by the least in-sample one-step-ahead squared error (grids in `core.forecast_methods`;
Holt-Winters: statsmodels' optimiser). Forecasts below 0 (a falling trend) are set to 0.

Fallback: an item whose method cannot run (no demand, too short a history, a failed or
non-finite fit) gets ``mean`` (or ``zero`` when it never had demand) and a
``fallback_reason``; the batch never stops for one item.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from core.errors import SegplanError

if TYPE_CHECKING:
    import pandas as pd

METHODS = ("auto", "ses", "holt", "holt_winters", "croston", "sba", "tsb")
#: auto: demand pattern -> method (smooth becomes holt_winters when seasonal)
AUTO_METHODS = {"smooth": "ses", "erratic": "ses", "intermittent": "sba", "lumpy": "tsb", "no_demand": "zero"}
TIME, VALUE = "bucket_start", "demand_quantity"
_IGNORED = {TIME, VALUE, "order_lines"}
_SEASON = {"week": 52, "month": 12}
#: periods of history a method needs (demand periods for croston/sba)
_MIN_PERIODS = {"ses": 2, "holt": 3, "tsb": 2}
_MIN_DEMANDS = {"croston": 2, "sba": 2}


@dataclass(frozen=True)
class ForecastResult:
    """``items``: one row per item (key columns, demand_pattern, method actually used,
    fallback_reason ("" when none), alpha, beta, gamma, history_periods, demand_periods).
    ``forecasts``: key columns, step (1..horizon), bucket_start, forecast_quantity."""

    items: pd.DataFrame
    forecasts: pd.DataFrame
    keys: tuple[str, ...]

    def wide(self) -> pd.DataFrame:
        """Key columns, method, fallback_reason, then one column per future bucket (ISO date)."""
        table = self.forecasts.assign(bucket=self.forecasts[TIME].dt.strftime("%Y-%m-%d"))
        wide = table.pivot(index=list(self.keys), columns="bucket", values="forecast_quantity")
        wide.columns.name = None
        head = self.items[[*self.keys, "method", "fallback_reason"]]
        return head.merge(wide.reset_index(), on=list(self.keys), how="left")


@dataclass(frozen=True)
class _Series:
    """The long table as a left-aligned matrix (see `core.forecast_methods`)."""

    items: pd.DataFrame  # key columns, sorted
    history: np.ndarray  # items x periods, NaN after each item's length
    lengths: np.ndarray
    last_bucket: np.ndarray  # datetime64[D] per item
    bucket: str


def key_columns_of(demand: pd.DataFrame) -> tuple[str, ...]:
    """The key columns of a demand table: every column but bucket_start, demand_quantity, order_lines."""
    missing = [c for c in (TIME, VALUE) if c not in demand.columns]
    keys = tuple(c for c in demand.columns if c not in _IGNORED)
    if missing or not keys:
        raise SegplanError(
            f"demand table lacks {'column(s) ' + ', '.join(missing) if missing else 'key columns'}",
            hint="pass the frame of bucket_demand: key columns, bucket_start, demand_quantity",
        )
    return keys


def _infer_bucket(starts: pd.Series, codes: np.ndarray) -> str:
    import pandas as pd

    dates = pd.to_datetime(starts)
    same_item = codes[1:] == codes[:-1]
    days = (dates.to_numpy()[1:] - dates.to_numpy()[:-1])[same_item] / np.timedelta64(1, "D")
    if len(days) == 0:
        return "month" if (dates.dt.day == 1).all() and not (dates.dt.day_of_week == 0).all() else "week"
    if (days == 7).all():
        return "week"
    months = (dates.dt.year * 12 + dates.dt.month).to_numpy()
    if ((months[1:] - months[:-1])[same_item] == 1).all() and (dates.dt.day == 1).all():
        return "month"
    raise SegplanError(
        "bucket_start is neither weekly nor monthly without gaps within an item",
        hint="use bucket_demand, which zero-fills every bucket of each item's horizon",
    )


def _to_series(demand: pd.DataFrame, keys: tuple[str, ...], bucket: str | None) -> _Series:
    import pandas as pd

    frame = demand[[*keys, TIME, VALUE]].sort_values([*keys, TIME], kind="mergesort").reset_index(drop=True)
    values = pd.to_numeric(frame[VALUE], errors="coerce").to_numpy(dtype=float)
    if np.isnan(values).any() or (values < 0).any():
        raise SegplanError("demand_quantity has missing or negative values",
                           hint="forecasting needs gross demand per bucket, 0 where there was none")
    grouped = frame.groupby(list(keys), sort=True, dropna=False)
    codes = grouped.ngroup().to_numpy()
    positions = grouped.cumcount().to_numpy()
    items = frame[list(keys)].drop_duplicates().reset_index(drop=True)
    lengths = np.bincount(codes, minlength=len(items)).astype(float)
    history = np.full((len(items), int(lengths.max()) if len(items) else 0), np.nan)
    history[codes, positions] = values
    last = pd.to_datetime(frame[TIME]).to_numpy().astype("datetime64[D]")
    last_bucket = np.full(len(items), np.datetime64("NaT"), dtype="datetime64[D]")
    last_bucket[codes] = last  # sorted by time within item, so the last write is the latest
    if bucket is None:
        bucket = _infer_bucket(frame[TIME], codes)
    elif bucket not in _SEASON:
        raise SegplanError(f"unknown bucket {bucket!r}", hint="choose week or month")
    return _Series(items, history, lengths, last_bucket, bucket)


def _future_buckets(last: np.ndarray, bucket: str, horizon: int) -> np.ndarray:
    """items x horizon datetime64[D]: the buckets after each item's last one."""
    steps = np.arange(1, horizon + 1)
    if bucket == "week":
        return last[:, None] + (7 * steps)[None, :].astype("timedelta64[D]")
    months = last.astype("datetime64[M]")[:, None] + steps[None, :].astype("timedelta64[M]")
    return months.astype("datetime64[D]")


def history_patterns(history: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """SBC demand pattern of each row, with `core.classify.demand_patterns` (ADI 1.32, CV² 0.49)."""
    import pandas as pd

    from core.classify import demand_patterns

    positive = np.where(history > 0, history, np.nan)
    demand_periods = (history > 0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"), _quiet():
        adi = np.where(demand_periods > 0, lengths / demand_periods, np.nan)
        mean = np.nanmean(positive, axis=1)
        cv2 = (np.nanstd(positive, axis=1) / mean) ** 2
    return demand_patterns(pd.Series(adi), pd.Series(cv2), 1.32, 0.49).to_numpy()


@contextmanager
def _quiet() -> Iterator[None]:
    """Silence numpy's RuntimeWarnings (mean of an empty slice) where NaN is the answer."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def _check(method: str, alpha: float | None, horizon: int, season_length: int | None) -> None:
    if method not in METHODS:
        raise SegplanError(f"unknown forecast method {method!r}", hint="choose one of: " + ", ".join(METHODS))
    if alpha is not None and not (0.0 < float(alpha) <= 1.0):
        raise SegplanError(f"alpha must be in (0, 1], got {alpha!r}", hint="e.g. --alpha 0.1, or leave it out to optimise")
    if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)) or horizon < 1:
        raise SegplanError(f"horizon must be a whole number of buckets >= 1, got {horizon!r}", hint="e.g. --horizon 12")
    if season_length is not None and int(season_length) < 2:
        raise SegplanError(f"season_length must be >= 2, got {season_length!r}", hint="52 for weeks, 12 for months")


def _given_patterns(items: pd.DataFrame, keys: tuple[str, ...], patterns: pd.DataFrame, own: np.ndarray) -> np.ndarray:
    if "demand_pattern" not in patterns.columns or any(k not in patterns.columns for k in keys):
        raise SegplanError("patterns frame lacks key columns or demand_pattern",
                           hint="pass the frame of classify() for the same level")
    merged = items.merge(patterns[[*keys, "demand_pattern"]].drop_duplicates(list(keys)), on=list(keys), how="left")
    given = merged["demand_pattern"].to_numpy(dtype=object)
    return np.where(merged["demand_pattern"].isna().to_numpy(), own, given)


def _run(method: str, history: np.ndarray, lengths: np.ndarray, horizon: int, alpha: float | None):
    from core import forecast_methods as fm

    if method == "ses":
        return fm.ses(history, lengths, horizon, alpha)
    if method == "holt":
        return fm.holt(history, lengths, horizon, alpha)
    if method in ("croston", "sba"):
        return fm.croston_r(history, lengths, horizon, alpha, sba=method == "sba")
    return fm.tsb(history, lengths, horizon, alpha)


def forecast(
    demand: pd.DataFrame,
    method: str = "auto",
    alpha: float | None = None,
    horizon: int = 12,
    patterns: pd.DataFrame | None = None,
    season_length: int | None = None,
    bucket: str | None = None,
) -> ForecastResult:
    """Forecast ``horizon`` buckets per item of a long demand table (rules: module docstring).

    ``method``: auto, ses, holt, holt_winters, croston, sba or tsb. ``season_length``
    defaults to 52 for weekly and 12 for monthly buckets; ``bucket`` (week/month) is inferred
    from bucket_start when not given.
    """
    import pandas as pd

    from core import forecast_methods as fm

    _check(method, alpha, horizon, season_length)
    keys = key_columns_of(demand)
    series = _to_series(demand, keys, bucket)
    m = int(season_length) if season_length is not None else _SEASON[series.bucket]
    history, lengths = series.history, series.lengths
    n_items = len(series.items)
    demand_periods = (history > 0).sum(axis=1)
    own = history_patterns(history, lengths) if n_items else np.array([], dtype=object)
    pattern = own if patterns is None else _given_patterns(series.items, keys, patterns, own)

    if method == "auto":
        planned = np.array([AUTO_METHODS.get(p, "ses") for p in pattern], dtype=object)
        if n_items:
            is_seasonal = fm.seasonal(history, lengths, m)
            planned = np.where((pattern == "smooth") & is_seasonal, "holt_winters", planned)
    else:
        planned = np.full(n_items, method, dtype=object)

    used = planned.copy()
    reason = np.full(n_items, "", dtype=object)
    for name, need in _MIN_PERIODS.items():
        short = (planned == name) & (lengths < need)
        reason[short] = [f"{int(n)} period(s) of history; {name} needs at least {need}" for n in lengths[short]]
    for name, need in _MIN_DEMANDS.items():
        short = (planned == name) & (demand_periods < need)
        reason[short] = [f"{int(k)} period(s) with demand; {name} needs at least {need}" for k in demand_periods[short]]
    short = (planned == "holt_winters") & (lengths < 2 * m)
    reason[short] = [f"{int(n)} period(s) of history; holt_winters needs two seasons ({2 * m})" for n in lengths[short]]
    none = (demand_periods == 0) & (planned != "zero")
    reason[none] = "no demand in history"
    used[reason != ""] = "mean"
    used[demand_periods == 0] = "zero"

    values = np.full((n_items, horizon), np.nan)
    params = np.full((n_items, 3), np.nan)
    for name in ("ses", "holt", "croston", "sba", "tsb"):
        rows = np.flatnonzero(used == name)
        if len(rows) == 0:
            continue
        width = int(lengths[rows].max())
        fit = _run(name, history[rows, :width], lengths[rows], horizon, alpha)
        values[rows] = fit.forecast
        params[rows] = np.c_[fit.alpha, fit.beta, fit.gamma]
        bad = rows[~fit.ok]
        reason[bad] = f"{name} gave a non-finite forecast"
        used[bad] = "mean"
    for row in np.flatnonzero(used == "holt_winters"):
        try:
            result, *found = fm.holt_winters(history[row, : int(lengths[row])], horizon, m, alpha)
            if not np.isfinite(result).all():
                raise ValueError("non-finite forecast")
            values[row], params[row] = result, found
        except Exception as exc:  # one failed fit must not stop the batch: reported, then mean
            reason[row] = f"holt_winters failed ({type(exc).__name__}: {exc})"[:200]
            used[row] = "mean"
    with np.errstate(invalid="ignore"), _quiet():
        mean = np.nanmean(np.where(np.isfinite(history), history, np.nan), axis=1) if n_items else np.zeros(0)
    fallback = used == "mean"
    values[fallback] = mean[fallback, None]
    params[fallback | (used == "zero")] = np.nan
    values[used == "zero"] = 0.0
    values = np.maximum(values, 0.0)

    items = series.items.copy()
    items["demand_pattern"] = pattern
    items["method"] = used
    items["fallback_reason"] = reason
    items["alpha"], items["beta"], items["gamma"] = params[:, 0], params[:, 1], params[:, 2]
    items["history_periods"] = lengths.astype(int)
    items["demand_periods"] = demand_periods.astype(int)

    future = _future_buckets(series.last_bucket, series.bucket, horizon)
    forecasts = series.items.loc[np.repeat(np.arange(n_items), horizon)].reset_index(drop=True)
    forecasts["step"] = np.tile(np.arange(1, horizon + 1), n_items)
    forecasts[TIME] = pd.to_datetime(future.reshape(-1)).astype("datetime64[ns]")
    forecasts["forecast_quantity"] = values.reshape(-1)
    return ForecastResult(items, forecasts, keys)
