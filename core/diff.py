"""What changed between two saved versions of a level: who moved where, how the movers'
features changed, and what the moves do to their policies and stock.

`compare_versions(store, a, b)` joins the two versions' assignments on the level's keys (in
DuckDB, from frames registered on this thread's cursor) and gives:

* the **migration matrix**: items per (segment in A, segment in B), segments by their names
  (the planner's rename, else the automatic name). An item only in B is counted in the row
  ``(not in A)``, an item only in A in the column ``(not in B)``;
* **flows**: the non-empty cells as (source, target, items), for a Sankey;
* **movers**: every item whose segment name differs (items that entered or left included; whether
  a planner's override put it there, per version),
  with each feature's value saved with A and with B (`core.version_features`, so a change of
  the data between the versions shows) and the change B - A, sorted by the size of the move:
  the distance travelled in feature space, each feature's change divided by its standard
  deviation over the items of both versions (``move_size``, in standard deviations; NULL when
  the item has no feature saved on both sides). Only features saved with both versions are
  compared;
* **policy impact**: per segment pair and per mover, the service level, inventory strategy
  and forecast method of the segment in A and in B (`core.policy_plan.version_policies`: the
  saved policy, else the default by class), and safety stock and reorder point under each
  version (`core.policy_plan.policy_items`). Those are computed on the data loaded **now** for
  both versions, so their change shows what the moves and the policies do, not how demand
  changed; customer-level versions hold no stock per customer, so there they are not given.

Versions of different levels are refused. The effective assignments are compared: the
model's with the planners' overrides active today applied (`core.overrides`); ``overridden``
and the notes say how many items of each version that concerns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.errors import SegplanError
from core.features import key_columns
from core.store import quote_ident

if TYPE_CHECKING:
    import duckdb
    import pandas as pd

    from core.policy import SegmentPolicy
    from core.store import Store

NOT_IN_A = "(not in A)"
NOT_IN_B = "(not in B)"
#: Policy fields compared per segment, as in `core.policy.SegmentPolicy`.
POLICY_FIELDS = ("service_level", "inventory_strategy", "forecast_method")
#: Per-item plan figures compared (units of the product), from `core.policy_plan.policy_items`.
PLAN_FIGURES = ("safety_stock", "reorder_point", "safety_stock_value")
_PLAN_IDENTIFIERS = frozenset(f"{f}{side}" for f in PLAN_FIGURES for side in ("", "_a", "_b", "_change"))


def _q(name: str) -> str:
    """A plan figure's column name, quoted (`quote_ident` with this module's own names)."""
    return quote_ident(name, allowed=_PLAN_IDENTIFIERS)


@dataclass(frozen=True)
class VersionDiff:
    """Two versions of one level compared (see the module docstring for every frame)."""

    a: int
    b: int
    level: str
    keys: tuple[str, ...]
    overridden: tuple[int, int]    # items of A and of B whose segment is a planner's override
    matrix: pd.DataFrame           # index: A's segments (+ NOT_IN_A), columns: B's (+ NOT_IN_B); items
    flows: pd.DataFrame            # source, target, items
    movers: pd.DataFrame           # keys, segment_a, segment_b, overridden_a/_b, move_size, <f>_a/_b/_change, policy
    features: tuple[str, ...]      # features compared (saved with both versions)
    pair_impact: pd.DataFrame      # segment_a, segment_b, items, policy fields _a/_b, stock sums _a/_b/_change
    stock_computed: bool           # whether safety stock and reorder point could be computed
    notes: tuple[str, ...]         # what the planner should know when reading the figures

    @property
    def items_moved(self) -> int:
        return len(self.movers)

    @property
    def items_stayed(self) -> int:
        stayed = self.flows[self.flows["source"] == self.flows["target"]]
        return int(stayed["items"].sum())


# -- inputs ---------------------------------------------------------------------------------------
def _segment_names(store: Store, version_id: int) -> list[tuple[str, str]]:
    """(segment as saved, its name) of a version, in the version's segment order."""
    from core.versions import _final_names, _header

    names = _final_names(_header(store, version_id))
    order = [r[0] for r in store.cursor().execute(
        "SELECT segment FROM segment_profiles WHERE version_id = ? ORDER BY segment_position", [version_id]
    ).fetchall()]
    order += [s for s in names if s not in order]
    return [(s, names.get(s, s)) for s in order]


def _assigned(store: Store, version_id: int, keys: Sequence[str]) -> tuple[pd.DataFrame, int]:
    """Keys, item_position, segment and segment_label (as text) of a version's items with the
    overrides active today applied, and how many items are overridden."""
    import numpy as np

    from core.overrides import effective_assignments

    frame = effective_assignments(store, version_id)   # in item_position order, as saved
    out = frame[list(keys)].assign(item_position=np.arange(len(frame), dtype=np.int64),
                                   segment=frame["segment"].astype(str), segment_label=frame["segment_label"].astype(str),
                                   overridden=frame["overridden"].astype(bool))
    return out, int(frame["overridden"].sum())


def _policies(store: Store, version_id: int) -> dict[str, SegmentPolicy]:
    from core.policy_plan import version_policies

    return {str(p.segment): p for p in version_policies(store, version_id)}


def _plan(store: Store, version_id: int, keys: Sequence[str], policies: Mapping[str, SegmentPolicy],
          notes: list[str]) -> pd.DataFrame | None:
    """Keys and PLAN_FIGURES per item under the version's policies, or None (with a note why)."""
    from core.policy_plan import policy_items

    try:
        plan = policy_items(store, version_id, policies=list(policies.values()))
    except SegplanError as err:
        notes.append(f"Safety stock and reorder point of version {version_id} cannot be computed: {err.message}.")
        return None
    return plan[[*keys, *PLAN_FIGURES]]


def _common_features(store: Store, a: int, b: int, level: str, notes: list[str]) -> list[str]:
    from core.features import feature_catalog
    from core.version_features import feature_names

    saved = {v: set(feature_names(store, v)) for v in (a, b)}
    for version, names in saved.items():
        if not names:
            notes.append(f"Version {version} was saved before versions kept their features, so movers show no "
                         "feature changes.")
    catalogue = [spec.name for spec in feature_catalog(level)]  # also the whitelist of feature names
    return [name for name in catalogue if name in saved[a] and name in saved[b]]


# -- the comparison ------------------------------------------------------------------------------
def compare_versions(store: Store, a: int, b: int) -> VersionDiff:
    """Compare version ``a`` (before) with version ``b`` (after) of the same level."""
    import pandas as pd

    from core.policy_plan import version_info

    info_a, info_b = version_info(store, a), version_info(store, b)
    a, b = int(info_a["version_id"]), int(info_b["version_id"])
    level = str(info_a["level"])
    if info_b["level"] != level:
        raise SegplanError(
            f"version {a} segments {level} items and version {b} {info_b['level']} items; "
            "only versions of the same level can be compared",
            hint="choose two versions of one level (see `segplan versions`)")
    keys = list(key_columns(level))
    notes: list[str] = []
    assigned_a, overridden_a = _assigned(store, a, keys)
    assigned_b, overridden_b = _assigned(store, b, keys)
    notes.append(f"Compared the effective assignments: the model's with the planners' overrides active today "
                 f"applied ({overridden_a:,} items overridden in version {a}, {overridden_b:,} in version {b}).")
    policies = {a: _policies(store, a), b: _policies(store, b)}
    plans: dict[int, pd.DataFrame | None] = {}
    if level == "customer":
        notes.append("Customer-level versions hold no stock per customer: safety stock and reorder point are "
                     "not compared.")
        plans = {a: None, b: None}
    else:
        plans = {v: _plan(store, v, keys, policies[v], notes) for v in (a, b)}
        if all(p is not None for p in plans.values()):
            notes.append("Safety stock and reorder point of both versions are computed on the data loaded now, "
                         "so their change shows what the moves and the policies do, not how demand changed.")
            if overridden_a or overridden_b:
                notes.append("Stock figures of overridden items follow the policy of their model segment: the plan "
                             "(core.policy_plan) is made on the model's assignments.")
    stock = all(p is not None for p in plans.values())
    features = _common_features(store, a, b, level, notes)

    cur = store.cursor()
    empty_plan = pd.DataFrame({**{k: pd.Series(dtype=object) for k in keys},
                               **{f: pd.Series(dtype="float64") for f in PLAN_FIGURES}})
    views = {"diff_a": assigned_a, "diff_b": assigned_b,
             "diff_plan_a": plans[a] if plans[a] is not None else empty_plan,
             "diff_plan_b": plans[b] if plans[b] is not None else empty_plan}
    for name, frame in views.items():
        cur.register(name, frame)
    try:
        counts = cur.execute(_pairs_sql(keys), {"not_a": NOT_IN_A, "not_b": NOT_IN_B}).df()
        movers = _movers(cur, keys, a, b, features)
    finally:
        for name in views:
            cur.unregister(name)

    names_a = [name for _, name in _segment_names(store, a)]
    names_b = [name for _, name in _segment_names(store, b)]
    matrix = _matrix(counts, names_a, names_b)
    flows = counts[counts["items"] > 0][["segment_a", "segment_b", "items"]].rename(
        columns={"segment_a": "source", "segment_b": "target"})
    order_a = {n: i for i, n in enumerate([*names_a, NOT_IN_A])}
    order_b = {n: i for i, n in enumerate([*names_b, NOT_IN_B])}
    flows = flows.assign(_a=flows["source"].map(order_a), _b=flows["target"].map(order_b)).sort_values(
        ["_a", "_b"], kind="mergesort").drop(columns=["_a", "_b"]).reset_index(drop=True)
    pair_impact = _pair_impact(counts, policies[a], policies[b], stock, order_a, order_b)
    movers = _with_policies(movers, policies[a], policies[b], stock)
    return VersionDiff(a=a, b=b, level=level, keys=tuple(keys), overridden=(overridden_a, overridden_b),
                       matrix=matrix, flows=flows,
                       movers=movers, features=tuple(features), pair_impact=pair_impact, stock_computed=stock,
                       notes=tuple(notes))


def _key_join(left: str, right: str, keys: Sequence[str]) -> str:
    return " AND ".join(f"{left}.{quote_ident(k)} = {right}.{quote_ident(k)}" for k in keys)


def _pairs_cte(keys: Sequence[str]) -> str:
    """Every item of A or B once: its keys, positions and segment names (NULL where absent)."""
    coalesced = ", ".join(f"coalesce(a.{quote_ident(k)}, b.{quote_ident(k)}) AS {quote_ident(k)}" for k in keys)
    return f"""pairs AS (
        SELECT {coalesced}, a.item_position AS position_a, b.item_position AS position_b,
               a.segment AS code_a, b.segment AS code_b, a.overridden AS overridden_a, b.overridden AS overridden_b,
               coalesce(a.segment_label, $not_a) AS segment_a, coalesce(b.segment_label, $not_b) AS segment_b
        FROM diff_a AS a FULL OUTER JOIN diff_b AS b ON {_key_join("a", "b", keys)}
    )"""


def _pairs_sql(keys: Sequence[str]) -> str:
    """Items and summed plan figures per (segment in A, segment in B)."""
    sums = ", ".join(f"sum(pa.{_q(f)}) AS {_q(f + '_a')}, sum(pb.{_q(f)}) AS {_q(f + '_b')}" for f in PLAN_FIGURES)
    return f"""WITH {_pairs_cte(keys)}
        SELECT p.segment_a, p.segment_b, any_value(p.code_a) AS code_a, any_value(p.code_b) AS code_b,
               count(*) AS items, {sums}
        FROM pairs AS p
        LEFT JOIN diff_plan_a AS pa ON {_key_join("pa", "p", keys)}
        LEFT JOIN diff_plan_b AS pb ON {_key_join("pb", "p", keys)}
        GROUP BY p.segment_a, p.segment_b"""


def _movers(cur: duckdb.DuckDBPyConnection, keys: Sequence[str], a: int, b: int, features: Sequence[str]
            ) -> pd.DataFrame:
    """Movers with their features in A and B, their change and the size of the move, largest first."""
    allowed = {*features, *(f"{f}_{side}" for f in features for side in ("a", "b", "change"))}
    params: dict[str, object] = {"not_a": NOT_IN_A, "not_b": NOT_IN_B, "a": a, "b": b, "features": list(features)}
    wide = []
    for i, name in enumerate(features):
        params[f"f{i}"] = name
        wide.append(f"""max(l.value_a) FILTER (WHERE l.feature = $f{i}) AS {quote_ident(f"{name}_a", allowed)},
            max(l.value_b) FILTER (WHERE l.feature = $f{i}) AS {quote_ident(f"{name}_b", allowed)},
            max(l.change) FILTER (WHERE l.feature = $f{i}) AS {quote_ident(f"{name}_change", allowed)}""")
    key_list = ", ".join(f"m.{quote_ident(k)}" for k in keys)
    plan = ", ".join(f"any_value(pa.{_q(f)}) AS {_q(f + '_a')}, any_value(pb.{_q(f)}) AS {_q(f + '_b')}, "
                     f"any_value(pb.{_q(f)}) - any_value(pa.{_q(f)}) AS {_q(f + '_change')}" for f in PLAN_FIGURES)
    return cur.execute(f"""
        WITH {_pairs_cte(keys)},
        moved AS (SELECT * FROM pairs WHERE segment_a <> segment_b),
        wanted AS (SELECT unnest(CAST($features AS VARCHAR[])) AS feature),
        saved AS (
            SELECT version_id, item_position, feature, value FROM segment_item_features
            WHERE version_id IN ($a, $b) AND feature IN (SELECT feature FROM wanted)
        ),
        spread AS (   -- each feature's standard deviation over the items of both versions
            SELECT feature, stddev_pop(value) AS sd FROM saved GROUP BY feature
        ),
        long AS (     -- one row per mover and feature
            SELECT m.*, w.feature, fa.value AS value_a, fb.value AS value_b,
                   -- a change within floating-point noise of a parallel sum is no change
                   CASE WHEN abs(fb.value - fa.value) <= 1e-9 * greatest(abs(fa.value), abs(fb.value), 1) THEN 0.0
                        ELSE fb.value - fa.value END AS change
            FROM moved AS m CROSS JOIN wanted AS w
            LEFT JOIN saved AS fa ON fa.version_id = $a AND fa.item_position = m.position_a AND fa.feature = w.feature
            LEFT JOIN saved AS fb ON fb.version_id = $b AND fb.item_position = m.position_b AND fb.feature = w.feature
        )
        SELECT {key_list}, m.segment_a, m.segment_b, any_value(m.code_a) AS code_a, any_value(m.code_b) AS code_b,
               coalesce(any_value(m.overridden_a), false) AS overridden_a,
               coalesce(any_value(m.overridden_b), false) AS overridden_b,
               sqrt(sum((l.change / nullif(s.sd, 0)) ^ 2)) AS move_size
               {''.join(', ' + w for w in wide)}, {plan}
        FROM moved AS m
        LEFT JOIN long AS l ON {_key_join("l", "m", keys)}
        LEFT JOIN spread AS s ON s.feature = l.feature
        LEFT JOIN diff_plan_a AS pa ON {_key_join("pa", "m", keys)}
        LEFT JOIN diff_plan_b AS pb ON {_key_join("pb", "m", keys)}
        GROUP BY {key_list}, m.segment_a, m.segment_b
        ORDER BY move_size DESC NULLS LAST, {key_list}""", params).df()


def _matrix(counts: pd.DataFrame, names_a: list[str], names_b: list[str]) -> pd.DataFrame:
    """Counts as a segments-of-A x segments-of-B table; (not in ...) only when some item is."""
    rows = [*names_a, *([NOT_IN_A] if (counts["segment_a"] == NOT_IN_A).any() else [])]
    columns = [*names_b, *([NOT_IN_B] if (counts["segment_b"] == NOT_IN_B).any() else [])]
    table = counts.pivot_table(index="segment_a", columns="segment_b", values="items", aggfunc="sum", fill_value=0)
    table = table.reindex(index=rows, columns=columns, fill_value=0).astype("int64")
    table.index.name, table.columns.name = "segment in A", "segment in B"
    return table


def _policy_columns(codes: pd.Series, policies: Mapping[str, SegmentPolicy], side: str) -> dict[str, pd.Series]:
    """Each POLICY_FIELDS value of the segment in ``codes`` (segment as text; None: not in the version)."""
    text = codes.astype(object).where(codes.notna(), None).map(lambda c: None if c is None else str(c))
    return {f"{field}_{side}": text.map({seg: getattr(p, field) for seg, p in policies.items()})
            for field in POLICY_FIELDS}


def _pair_impact(counts: pd.DataFrame, policies_a: Mapping[str, SegmentPolicy],
                 policies_b: Mapping[str, SegmentPolicy], stock: bool, order_a: Mapping[str, int],
                 order_b: Mapping[str, int]) -> pd.DataFrame:
    """Per (segment in A, segment in B): items, each side's policy, and the stock sums when computed."""
    import pandas as pd

    frame = counts.assign(_a=counts["segment_a"].map(order_a), _b=counts["segment_b"].map(order_b))
    frame = frame.sort_values(["_a", "_b"], kind="mergesort").reset_index(drop=True)
    out = frame[["segment_a", "segment_b", "items"]].copy()
    sides = {**_policy_columns(frame["code_a"], policies_a, "a"), **_policy_columns(frame["code_b"], policies_b, "b")}
    for field in POLICY_FIELDS:   # before and after side by side
        out[f"{field}_a"], out[f"{field}_b"] = sides[f"{field}_a"].to_numpy(), sides[f"{field}_b"].to_numpy()
    if stock:
        for figure in ("safety_stock_value", "safety_stock", "reorder_point"):
            # an item not in a version holds no stock under it: its side counts 0
            before, after = frame[f"{figure}_a"].fillna(0.0), frame[f"{figure}_b"].fillna(0.0)
            out[f"{figure}_a"], out[f"{figure}_b"], out[f"{figure}_change"] = before, after, after - before
    return pd.DataFrame(out)


def _with_policies(movers: pd.DataFrame, policies_a: Mapping[str, SegmentPolicy],
                   policies_b: Mapping[str, SegmentPolicy], stock: bool) -> pd.DataFrame:
    sides = {**_policy_columns(movers["code_a"], policies_a, "a"), **_policy_columns(movers["code_b"], policies_b, "b")}
    for field in POLICY_FIELDS:
        movers[f"{field}_a"], movers[f"{field}_b"] = sides[f"{field}_a"].to_numpy(), sides[f"{field}_b"].to_numpy()
    if not stock:
        movers = movers.drop(columns=[f"{f}_{s}" for f in PLAN_FIGURES for s in ("a", "b", "change")])
    return movers.drop(columns=["code_a", "code_b"])
