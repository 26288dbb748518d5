"""Rule-based segments: the ABC x XYZ nine-box, demand patterns, and planner-defined rules.

Planner rules are a small declarative structure, never code: an ordered list of rules, each
a name and a list of conditions that must all hold; the first rule that matches an item
wins, and the last rule (no conditions) is the default::

    [{"name": "Key", "when": [("abc", "==", "A"), ("strategic_account", "==", True)]},
     {"name": "Slow", "when": [("weeks_since_last_sale", ">", 26)]},
     {"name": "Other"}]

Several rules may share a name (either of them puts an item in that segment). A missing value
matches no comparison, only ``is missing``.

References:
    Silver, E. A., Pyke, D. F., Thomas, D. J. (2017). *Inventory and Production Management
    in Supply Chains*, 4th ed., CRC Press, §2.4 (ABC classification; combined ABC-XYZ).
    Syntetos, A. A., Boylan, J. E., Croston, J. D. (2005). On the categorization of demand
    patterns. *J. Oper. Res. Soc.* 56(5), 495-503 (smooth, erratic, intermittent, lumpy).
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.errors import SegplanError

COMPARISONS = ("==", "!=", "<", "<=", ">", ">=")
OPERATORS = (*COMPARISONS, "in", "not in", "between", "is missing", "is not missing")
ABC_CLASSES = ("A", "B", "C")
XYZ_CLASSES = ("X", "Y", "Z")
DEMAND_PATTERNS = ("smooth", "erratic", "intermittent", "lumpy")


@dataclass(frozen=True)
class Condition:
    """``column op value``, e.g. ``("abc", "==", "A")`` or ``("cv", "between", [0.5, 1.0])``."""

    column: str
    op: str
    value: object = None

    def as_list(self) -> list[object]:
        return [self.column, self.op, self.value]


@dataclass(frozen=True)
class Rule:
    """A named segment and the conditions (all must hold) that put an item in it."""

    name: str
    when: tuple[Condition, ...] = ()

    def as_dict(self) -> dict[str, object]:
        return {"name": self.name, "when": [c.as_list() for c in self.when]}


def parse_rules(spec: Sequence[Mapping[str, object] | Rule]) -> list[Rule]:
    """Validate a rule list (dicts or `Rule`) and return `Rule` objects.

    The list must end with exactly one default rule (a name and no conditions).
    """
    if not spec:
        raise SegplanError("rules: the rule list is empty", 'end the list with a default rule, e.g. {"name": "Other"}')
    rules: list[Rule] = []
    for position, raw in enumerate(spec, start=1):
        if isinstance(raw, Rule):
            rules.append(raw)
            continue
        if not isinstance(raw, Mapping) or "name" not in raw:
            raise SegplanError(f"rules: rule {position} has no name", 'write each rule as {"name": ..., "when": [...]}')
        unknown = set(raw) - {"name", "when"}
        if unknown:
            raise SegplanError(f"rules: rule {position} has unknown key {sorted(unknown)[0]!r}", "use only 'name' and 'when'")
        name = raw["name"]
        if not isinstance(name, str) or not name.strip():
            raise SegplanError(f"rules: rule {position} has name {name!r}", "give each rule a non-empty text name")
        conditions = []
        for cond in raw.get("when") or ():
            if isinstance(cond, Condition):
                conditions.append(cond)
                continue
            if isinstance(cond, Mapping):
                cond = (cond.get("column"), cond.get("op"), cond.get("value"))
            if not isinstance(cond, Sequence) or isinstance(cond, str) or len(cond) not in (2, 3):
                raise SegplanError(f"rules: rule {name!r} has condition {cond!r}",
                                   'write a condition as (column, operator, value), e.g. ("abc", "==", "A")')
            conditions.append(Condition(cond[0], cond[1], cond[2] if len(cond) == 3 else None))
        rules.append(Rule(name.strip(), tuple(conditions)))
    defaults = [i for i, r in enumerate(rules) if not r.when]
    if defaults != [len(rules) - 1]:
        raise SegplanError("rules: the list must end with one default rule and have no other rule without conditions",
                           'make the last rule {"name": "Other"} and give every other rule a "when"')
    return rules


def _check_condition(items: pd.DataFrame, rule: Rule, cond: Condition) -> None:
    where = f"rules: rule {rule.name!r}"
    if not isinstance(cond.column, str) or cond.column not in items.columns:
        raise SegplanError(f"{where} uses column {cond.column!r}, which is not in the items",
                           f"use one of: {', '.join(map(str, items.columns))}")
    if cond.op not in OPERATORS:
        raise SegplanError(f"{where} uses operator {cond.op!r}", f"use one of: {', '.join(OPERATORS)}")
    numeric = pd.api.types.is_numeric_dtype(items[cond.column]) and not pd.api.types.is_bool_dtype(items[cond.column])
    values: list[object]
    if cond.op in ("is missing", "is not missing"):
        return
    if cond.op in ("in", "not in"):
        if not isinstance(cond.value, list | tuple | set | frozenset) or not cond.value:
            raise SegplanError(f"{where}: {cond.op!r} needs a non-empty list, got {cond.value!r}",
                               'e.g. ("abc", "in", ["A", "B"])')
        values = list(cond.value)
    elif cond.op == "between":
        if not isinstance(cond.value, list | tuple) or len(cond.value) != 2:
            raise SegplanError(f"{where}: 'between' needs [low, high], got {cond.value!r}", 'e.g. ("cv", "between", [0.5, 1.0])')
        values = list(cond.value)
    else:
        values = [cond.value]
    for value in values:
        is_number = isinstance(value, numbers.Real) and not isinstance(value, bool)
        if numeric and not is_number:
            raise SegplanError(f"{where} compares numeric column {cond.column!r} with {value!r}", "compare with a number")
        if not numeric and is_number and cond.op not in ("==", "!=", "in", "not in"):
            raise SegplanError(f"{where} compares text column {cond.column!r} with {value!r}",
                               "use ==, !=, in or not in on text columns")
    if cond.op in ("<", "<=", ">", ">=", "between") and not numeric:
        raise SegplanError(f"{where}: {cond.op!r} needs a numeric column, {cond.column!r} is not",
                           "use ==, !=, in or not in on text columns")


def _mask(items: pd.DataFrame, cond: Condition) -> np.ndarray:
    col = items[cond.column]
    present = col.notna().to_numpy()
    if cond.op == "is missing":
        return ~present
    if cond.op == "is not missing":
        return present
    if cond.op == "in":
        hit = col.isin(list(cond.value))
    elif cond.op == "not in":
        hit = ~col.isin(list(cond.value))
    elif cond.op == "between":
        low, high = cond.value
        hit = (col >= low) & (col <= high)
    else:
        hit = {"==": col.__eq__, "!=": col.__ne__, "<": col.__lt__, "<=": col.__le__,
               ">": col.__gt__, ">=": col.__ge__}[cond.op](cond.value)
    # A missing value matches nothing but "is missing" (so "!=" does not catch it).
    return hit.fillna(False).to_numpy(dtype=bool) & present


def apply_rules(items: pd.DataFrame, rules: Sequence[Mapping[str, object] | Rule]) -> tuple[pd.Series, pd.DataFrame]:
    """Each item's segment (first matching rule's name) and how many items each rule took.

    Returns the segment names (aligned with ``items``) and a frame ``rule, name, items`` in rule
    order, so a planner sees rules that catch nothing.
    """
    parsed = parse_rules(rules)
    for rule in parsed:
        for cond in rule.when:
            _check_condition(items, rule, cond)
    segment = np.full(len(items), None, dtype=object)
    open_ = np.ones(len(items), dtype=bool)
    taken = []
    for rule in parsed:
        hit = open_.copy()
        for cond in rule.when:
            hit &= _mask(items, cond)
        segment[hit] = rule.name
        open_ &= ~hit
        taken.append(int(hit.sum()))
    hits = pd.DataFrame({"rule": range(1, len(parsed) + 1), "name": [r.name for r in parsed], "items": taken})
    return pd.Series(segment, index=items.index, name="segment"), hits


def _require_classes(items: pd.DataFrame, column: str, allowed: tuple[str, ...]) -> pd.Series:
    if column not in items.columns:
        raise SegplanError(f"items: class column {column!r} is missing", "run classification first and join its columns")
    values = items[column]
    bad = values[~values.isin(allowed)]
    if len(bad):
        raise SegplanError(f"items: column {column!r} has value {bad.iloc[0]!r}",
                           f"expected one of {', '.join(allowed)}; rerun classification")
    return values.astype(str)


def nine_box(items: pd.DataFrame) -> pd.Series:
    """The ABC x XYZ cell of each item: "AX" (high value, steady) to "CZ" (low value, erratic)."""
    abc = _require_classes(items, "abc", ABC_CLASSES)
    xyz = _require_classes(items, "xyz", XYZ_CLASSES)
    return (abc + xyz).rename("segment")


def demand_pattern_segments(items: pd.DataFrame) -> pd.Series:
    """The demand pattern of each item (smooth, erratic, intermittent, lumpy; SBC 2005)."""
    return _require_classes(items, "demand_pattern", DEMAND_PATTERNS).rename("segment")


#: Order of the nine-box cells and patterns for stable segment ids and displays.
NINE_BOX_ORDER = tuple(a + x for a in ABC_CLASSES for x in XYZ_CLASSES)


# -- nine-box boundary distance ----------------------------------------------------------------
#: The cut-offs `core.classify.classify` uses by default, and so `core.segment_items.segmentation_items`:
#: ABC on the cumulative share of the measure, XYZ on the coefficient of variation of demand.
ABC_CUTOFFS = (0.80, 0.95)
XYZ_CUTOFFS = (0.5, 1.0)
#: A cv below this counts as this much on the log scale (a cv of 0 has no logarithm).
CV_FLOOR = 0.01


def abc_positions(items: pd.DataFrame, measure_column: str | None, keys: Sequence[str]) -> np.ndarray:
    """Each item's place in the ABC ranking: the share of the measure held by the items ranked above it.

    That is the number the ABC rule compares with the cut-offs (`core.classify.abc_classes`: A while
    it is below the A cut-off, ...); the cumulative share *including* the item is this plus the
    item's own share. Ranked as `core.classify.abc_classes` ranks (measure descending, ties by key).
    NaN where the item has no place (measure zero, negative, unknown) or no measure column is given.
    """
    from core.classify import _DECIMALS, abc_classes

    if measure_column is None or measure_column not in items.columns:
        return np.full(len(items), np.nan)
    value = pd.to_numeric(items[measure_column], errors="coerce").astype("float64")
    positive = (value > 0).to_numpy()
    if not positive.any():
        return np.full(len(items), np.nan)
    _, cumulative = abc_classes(items, measure_column, tuple(keys), ABC_CUTOFFS)
    total = float(value[positive].sum())
    above = cumulative.to_numpy(dtype=float) - value.to_numpy(dtype=float) / total
    return np.where(positive, np.round(above, _DECIMALS), np.nan)


def _class_intervals(cutoffs: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper edge of the three classes on one axis: (-inf, c1], [c1, c2], [c2, inf)."""
    low, high = (float(c) for c in cutoffs)
    return np.array([-np.inf, low, high]), np.array([low, high, np.inf])


def nine_box_distances(abc: Sequence[str], xyz: Sequence[str], abc_position: np.ndarray, cv: np.ndarray,
                       abc_cutoffs: Sequence[float] = ABC_CUTOFFS,
                       xyz_cutoffs: Sequence[float] = XYZ_CUTOFFS) -> pd.DataFrame:
    """Distance of each item to its own nine-box cell and to the nearest other cell.

    The nine cells are rectangles in a plane whose axes are the ABC position (`abc_positions`)
    divided by the width of the B band (b cut-off - a cut-off; 0.15 with 80/95 %) and ln(cv)
    divided by the width of the Y band (ln(y cut-off / x cut-off); ln 2 with 0.5/1.0), so one
    unit is "one middle band" on either axis. ``distance_own`` is the item's distance to the
    rectangle of its own cell (``abc`` + ``xyz``: 0 while the item sits in it), ``distance_next``
    to the nearest rectangle of another cell, ``boundary_margin`` = next - own: inside its cell,
    the distance to the nearest class boundary (ABC: |position - cut-off| / 0.15; XYZ:
    |ln(cv / cut-off)| / ln 2), below 0 once the item is past it. ``nearest_segment`` is that
    other cell: the class across the nearest boundary (AX -> BX or AY).

    A NaN position (no positive measure) or cv (no demand) holds the item to its class on that
    axis (it cannot cross there); with both NaN the item cannot cross at all: NaN distances and no
    nearest cell. A cv below `CV_FLOOR` counts as `CV_FLOOR`. Returns a frame aligned with the inputs.
    """
    abc = np.asarray(abc, dtype=object)
    xyz = np.asarray(xyz, dtype=object)
    a_low, a_high = _class_intervals(abc_cutoffs)
    x_low, x_high = _class_intervals(np.log(np.asarray(xyz_cutoffs, dtype=float)))
    a_width = float(abc_cutoffs[1]) - float(abc_cutoffs[0])
    x_width = float(np.log(float(xyz_cutoffs[1]) / float(xyz_cutoffs[0])))
    position = np.asarray(abc_position, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        log_cv = np.log(np.maximum(np.asarray(cv, dtype=float), CV_FLOOR))

    def gaps(values: np.ndarray, labels: np.ndarray, classes: tuple[str, ...], low: np.ndarray, high: np.ndarray,
             width: float) -> np.ndarray:
        """items x 3: distance to each class band on one axis, in band widths (fixed axis: 0 or inf)."""
        with np.errstate(invalid="ignore"):
            gap = np.maximum(np.maximum(low[None, :] - values[:, None], values[:, None] - high[None, :]), 0.0) / width
        fixed = np.isnan(values)
        same = labels[:, None] == np.array(classes, dtype=object)[None, :]
        gap[fixed] = np.where(same[fixed], 0.0, np.inf)
        return gap

    gap_abc = gaps(position, abc, ABC_CLASSES, a_low, a_high, a_width)
    gap_xyz = gaps(log_cv, xyz, XYZ_CLASSES, x_low, x_high, x_width)
    cells = np.array(NINE_BOX_ORDER, dtype=object)
    distance = np.hypot(np.repeat(gap_abc, 3, axis=1), np.tile(gap_xyz, (1, 3)))  # items x 9, NINE_BOX_ORDER
    cell_of = pd.Series(abc, dtype=object).astype(str) + pd.Series(xyz, dtype=object).astype(str)
    own_cell = cell_of.map({cell: i for i, cell in enumerate(NINE_BOX_ORDER)}).fillna(-1).to_numpy(dtype=np.int64)
    rows = np.arange(len(abc))
    known = own_cell >= 0
    own = np.full(len(abc), np.nan)
    own[known] = distance[rows[known], own_cell[known]]
    others = distance.copy()
    others[rows[known], own_cell[known]] = np.inf
    best = others.argmin(axis=1) if len(abc) else np.zeros(0, dtype=np.int64)
    nxt = others[rows, best] if len(abc) else np.zeros(0)
    measured = known & np.isfinite(own) & np.isfinite(nxt)
    own = np.where(measured, own, np.nan)
    nxt = np.where(measured, nxt, np.nan)
    return pd.DataFrame({"distance_own": own, "distance_next": nxt, "boundary_margin": nxt - own,
                         "nearest_segment": np.where(measured, cells[best] if len(abc) else cells[:0], None)})


def nine_box_item_distances(items: pd.DataFrame, measure_column: str | None, keys: Sequence[str],
                            abc_cutoffs: Sequence[float] = ABC_CUTOFFS,
                            xyz_cutoffs: Sequence[float] = XYZ_CUTOFFS) -> pd.DataFrame:
    """`nine_box_distances` of items carrying their classes (``abc``, ``xyz``), measure and ``cv``.

    Where the rule on the position (or cv) and the cut-offs does not give the item's class (the
    items were classified on another measure or other cut-offs), that axis is held fixed rather
    than measured against boundaries that did not make the class.
    """
    from core.classify import xyz_classes

    abc = items["abc"].astype(str).to_numpy(dtype=object)
    xyz = items["xyz"].astype(str).to_numpy(dtype=object)
    position = abc_positions(items, measure_column, keys)
    with np.errstate(invalid="ignore"):
        rule_abc = np.where(position < abc_cutoffs[0], "A", np.where(position < abc_cutoffs[1], "B", "C"))
    position = np.where(rule_abc == abc, position, np.nan)
    if "cv" in items.columns:
        cv = pd.to_numeric(items["cv"], errors="coerce").astype("float64").to_numpy()
        rule_xyz = xyz_classes(items["cv"].reset_index(drop=True), tuple(xyz_cutoffs)).to_numpy(dtype=object)
        cv = np.where(np.isnan(cv) | (rule_xyz != xyz), np.nan, cv)
    else:
        cv = np.full(len(items), np.nan)
    return nine_box_distances(abc, xyz, position, cv, abc_cutoffs, xyz_cutoffs)
