"""Policies of a saved segmentation version, and the per-item plan they give.

A version's policies live in ``segment_policies`` (one row per segment, saved with the
version); every change is recorded in ``policy_events`` with the policy before and after.
A segment without a saved policy takes its default (`core.policy.default_policies`, by the
dominant ABC / XYZ class of the segment's items).

`policy_items` turns a version into one planning row per item: the version's items at its
level, bucket and ABC measure (`core.segment_items.segmentation_items`), their segment from
the version's effective assignments, the products master (unit_cost, lead time, moq) and then
`core.policy.plan_items`.

Segments of items
    Everything here that needs an item's segment (the plan, the default policies, the
    allocation tiers) takes it from `core.overrides.effective_assignments`: the model's
    assignment with the planner's overrides active today applied, so an item a planner moved
    is planned and served as a member of the segment it was moved to.

Levels
    product: one row per product. customer_product: one row per customer x product pair, the
    pair's demand planned as stock held for that customer (customer-specific or consignment
    stock); pooled per product, stock would be smaller (risk pooling), so for a pooled plan
    segment at product level. customer: no stock is held per customer, so it is an error.

Lead time, per product, first that is known (column ``lead_time_source``)
    ``products``: products.lead_time_days (and lead_time_std_days, 0 when missing);
    ``observed_delivery``: mean and sample standard deviation of delivered_date - order_date
    over the product's demand lines (as the feature lead_time_days_mean);
    ``observed_shipment``: the same with ship_date; ``default``: the caller's
    ``default_lead_time_days`` (standard deviation 0); else ``assumed_one_bucket``: one bucket
    (7 or 30.4375 days, standard deviation 0), so that data without any lead time still gets a
    plan; the source column and `segplan policy`'s note tell the planner to load real ones.

Demand variability (``demand_source``)
    ``history``: demand_std, the standard deviation of bucket demand. ``forecast_errors``: the
    root mean squared error of each item's forecast on its last ``horizon`` buckets held out
    (the last-H holdout of `core.forecast_backtest`, with the forecast method of the item's
    policy; ``auto`` by demand pattern), which is what safety stock has to cover when
    replenishment follows the forecast. Items with too short a history keep demand_std
    (column ``demand_std_source`` says which).
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING

from core.audit import record as audit_record
from core.errors import SegplanError
from core.policy import SegmentPolicy

if TYPE_CHECKING:
    import pandas as pd

    from core.store import Store

DEMAND_SOURCES = ("history", "forecast_errors")
LEAD_TIME_SOURCES = ("products", "observed_delivery", "observed_shipment", "default", "assumed_one_bucket")
#: held-out buckets of the forecast-error backtest per bucket: a quarter of a year / half a year
ERROR_HORIZON = {"week": 13, "month": 6}
#: the plan's first columns, in this order (the `segplan policy` contract)
PLAN_COLUMNS = ("product_id", "segment", "service_level", "safety_stock", "reorder_point", "order_quantity",
                "forecast_method", "demand_mean", "demand_std", "lead_time", "lead_time_std", "z", "bucket")
_POLICY_FIELDS = ("service_level", "service_level_type", "inventory_strategy", "review_period_days",
                  "forecast_method", "allocation_tier")


# -- the version ------------------------------------------------------------------------------
def version_info(store: Store, version_id: int) -> dict[str, object]:
    """Header of a version: id, level, bucket, ABC measure (error naming the id when unknown)."""
    from core.versions import _header

    header = _header(store, version_id)
    items = dict(header["parameters"]).get("items", {})
    return {"version_id": int(header["version_id"]), "level": str(header["level"]),
            "bucket": str(header["bucket"]), "measure": str(items.get("abc_measure") or "revenue")}


def _segments(store: Store, version_id: int) -> list[str]:
    """The segments of a version that hold items, as text in text order: the model's segments and
    the targets of the overrides active today (a segment may hold only items moved into it)."""
    rows = store.cursor().execute(
        """SELECT segment FROM segment_assignments WHERE version_id = ?
           UNION
           SELECT segment FROM segment_overrides
           WHERE version_id = ? AND withdrawn_at IS NULL AND (expires_on IS NULL OR expires_on > ?)
           ORDER BY segment""", [version_id, version_id, dt.date.today()]
    ).fetchall()
    return [r[0] for r in rows]


def _saved(store: Store, version_id: int) -> dict[str, SegmentPolicy]:
    rows = store.cursor().execute(
        f"SELECT segment, {', '.join(_POLICY_FIELDS)} FROM segment_policies WHERE version_id = ? ORDER BY segment",
        [version_id],
    ).fetchall()
    return {r[0]: SegmentPolicy(r[0], float(r[1]), r[2], r[3], float(r[4]), r[5], int(r[6])) for r in rows}


def _version_items(store: Store, version: Mapping[str, object], bucket: str | None = None) -> pd.DataFrame:
    """The version's items with their current features and classes, and segment / segment_label:
    the effective ones (`core.overrides.effective_assignments`, overrides active today applied)."""
    from core.features import key_columns
    from core.overrides import effective_assignments
    from core.segment_items import segmentation_items

    keys = list(key_columns(str(version["level"])))
    items = segmentation_items(store, str(version["level"]), bucket or str(version["bucket"]),
                               str(version["measure"]))
    assigned = effective_assignments(store, int(version["version_id"]))[[*keys, "segment", "segment_label"]]
    assigned = assigned.assign(segment=assigned["segment"].astype(str))
    return assigned.merge(items, on=keys, how="inner", validate="one_to_one")


def version_policies(store: Store, version_id: int) -> list[SegmentPolicy]:
    """One policy per segment of the version, in segment order: the saved one, else the default.

    Defaults come from `core.policy.default_policies` on the version's items (their current
    abc / xyz / demand_pattern): a nine-box segment takes its cell, any other segment the cell
    of its dominant ABC and XYZ class, counting the items in it after overrides (`_version_items`).
    Segment names are text, as saved; a segment that holds only items moved into it is listed.
    """
    version = version_info(store, version_id)
    segments = _segments(store, int(version["version_id"]))
    saved = _saved(store, int(version["version_id"]))
    missing = [s for s in segments if s not in saved]
    defaults: dict[str, SegmentPolicy] = {}
    if missing:
        from core.policy import default_policies

        items = _version_items(store, version)
        items = items[items["segment"].isin(missing)]
        defaults = {p.segment: p for p in default_policies(items)}
        for name in missing:  # a segment whose items have no order lines any more
            if name not in defaults:
                defaults[name] = default_policies([name])[0]
    return [saved.get(s) or defaults[s] for s in segments]


def _as_policy(policy: SegmentPolicy | Mapping[str, object]) -> SegmentPolicy:
    if isinstance(policy, SegmentPolicy):
        return SegmentPolicy(**{**asdict(policy), "segment": str(policy.segment)})
    if isinstance(policy, Mapping):
        try:
            return SegmentPolicy(**{**policy, "segment": str(policy["segment"])})
        except (KeyError, TypeError) as exc:
            raise SegplanError(f"policy {dict(policy)!r} is not a segment policy ({exc})",
                               "give segment, service_level and optionally the other SegmentPolicy fields") from None
    raise SegplanError(f"policy {policy!r} is not a SegmentPolicy", "give SegmentPolicy objects or dicts of its fields")


def save_policies(store: Store, version_id: int, policies: Sequence[SegmentPolicy | Mapping[str, object]],
                  user: str | None = None) -> list[SegmentPolicy]:
    """Save policies for segments of a version, in one transaction; returns all its policies.

    Each policy is validated (`SegmentPolicy`), must name a segment of the version and appear
    once. Only segments whose policy differs from the saved one are written; each gets a
    ``policy_events`` row (``created`` when it had none saved, else ``changed``) with the
    policy before and after as JSON. Segments not given keep what they had.
    """
    version = version_info(store, version_id)
    vid = int(version["version_id"])
    from core.approval import check_editable

    check_editable(store.cursor(), vid, "given other policies")  # submitted / approved versions are locked
    given = [_as_policy(p) for p in policies]
    segments = set(_segments(store, vid))
    seen: set[str] = set()
    for policy in given:
        if policy.segment not in segments:
            raise SegplanError(f"version {vid} has no segment {policy.segment!r}",
                               "give policies for: " + ", ".join(sorted(segments)))
        if policy.segment in seen:
            raise SegplanError(f"segment {policy.segment!r} is given more than once", "give one policy per segment")
        seen.add(policy.segment)
    saved = _saved(store, vid)
    changed = [p for p in given if saved.get(p.segment) != p]
    if changed:
        _write(store, vid, changed, saved, user or os.environ.get("USER"))
    return version_policies(store, vid)


def _record(policy: SegmentPolicy) -> dict[str, object]:
    record = asdict(policy)
    record["service_level"] = float(record["service_level"])
    record["review_period_days"] = float(record["review_period_days"])
    record["allocation_tier"] = int(record["allocation_tier"])
    return record


def _write(store: Store, version_id: int, changed: list[SegmentPolicy], saved: Mapping[str, SegmentPolicy],
           user: str | None) -> None:
    """One INSERT per table, in one transaction (replacing the changed segments' rows)."""
    import pandas as pd

    now = dt.datetime.now()
    rows = pd.DataFrame([{"version_id": version_id, **_record(p), "updated_by": user, "updated_at": now}
                         for p in changed])
    events = pd.DataFrame([{
        "version_id": version_id, "segment": p.segment, "event_at": now, "user_name": user,
        "action": "changed" if p.segment in saved else "created",
        "policy_before": json.dumps(_record(saved[p.segment])) if p.segment in saved else None,
        "policy_after": json.dumps(_record(p))} for p in changed])
    columns = ("version_id", "segment", *_POLICY_FIELDS, "updated_by", "updated_at")
    with store.transaction() as cur:
        from core.approval import check_editable

        check_editable(cur, version_id, "given other policies")  # again inside: a submit may have just landed
        cur.register("new_policies", rows)
        cur.register("new_policy_events", events)
        try:
            cur.execute(f"""
                INSERT OR REPLACE INTO segment_policies ({', '.join(columns)})
                SELECT {', '.join(columns)} FROM new_policies""")
            cur.execute("""
                INSERT INTO policy_events (version_id, segment, event_at, user_name, action, policy_before,
                                           policy_after)
                SELECT version_id, segment, event_at, user_name, action, policy_before, policy_after
                FROM new_policy_events""")
        finally:
            cur.unregister("new_policies")
            cur.unregister("new_policy_events")
        for p in changed:
            audit_record(cur, user=user, action="policy_edit", entity="policy", entity_id=f"{version_id}/{p.segment}",
                         before=_record(saved[p.segment]) if p.segment in saved else None, after=_record(p))


def policy_events(store: Store, version_id: int) -> pd.DataFrame:
    """The policy history of a version, oldest first: segment, event_at, user_name, action,
    policy_before, policy_after (JSON text)."""
    vid = int(version_info(store, version_id)["version_id"])
    return store.cursor().execute(
        """SELECT segment, event_at, user_name, action, policy_before, policy_after
           FROM policy_events WHERE version_id = ? ORDER BY event_at, segment""", [vid]).df()


# -- the plan ---------------------------------------------------------------------------------
def _product_master(store: Store) -> pd.DataFrame:
    """Per product: unit_cost, moq and lead time with its standard deviation and source."""
    frame = store.cursor().execute("""
        WITH master AS (   -- the products table, one row per product
            SELECT product_id, max(unit_cost) AS unit_cost, max(moq) AS moq,
                   max(lead_time_days) AS master_lead_time_days,
                   max(lead_time_std_days) AS master_lead_time_std_days
            FROM products GROUP BY product_id
        ),
        observed AS (      -- order-to-delivery and order-to-shipment days of demand lines
            SELECT product_id,
                   avg(date_diff('day', order_date, delivered_date))
                       FILTER (WHERE delivered_date >= order_date) AS delivery_days,
                   coalesce(stddev_samp(date_diff('day', order_date, delivered_date))
                       FILTER (WHERE delivered_date >= order_date), 0) AS delivery_std_days,
                   avg(date_diff('day', order_date, ship_date)) FILTER (WHERE ship_date >= order_date) AS ship_days,
                   coalesce(stddev_samp(date_diff('day', order_date, ship_date))
                       FILTER (WHERE ship_date >= order_date), 0) AS ship_std_days
            FROM orders WHERE quantity > 0 GROUP BY product_id
        )
        SELECT coalesce(m.product_id, o.product_id) AS product_id, m.unit_cost, m.moq,
               CASE WHEN m.master_lead_time_days IS NOT NULL THEN 'products'
                    WHEN o.delivery_days IS NOT NULL THEN 'observed_delivery'
                    WHEN o.ship_days IS NOT NULL THEN 'observed_shipment'
                    ELSE 'missing' END AS lead_time_source,
               coalesce(m.master_lead_time_days, o.delivery_days, o.ship_days) AS lead_time_days,
               CASE WHEN m.master_lead_time_days IS NOT NULL THEN coalesce(m.master_lead_time_std_days, 0)
                    WHEN o.delivery_days IS NOT NULL THEN o.delivery_std_days
                    WHEN o.ship_days IS NOT NULL THEN o.ship_std_days END AS lead_time_std_days
        FROM master AS m FULL OUTER JOIN observed AS o ON o.product_id = m.product_id
    """).df()
    return frame


def _forecast_rmse(store: Store, items: pd.DataFrame, keys: list[str], level: str, bucket: str,
                   methods: pd.Series) -> pd.DataFrame:
    """RMSE per item of its forecast on its last ERROR_HORIZON[bucket] buckets held out.

    The same last-H holdout as `core.forecast_backtest.backtest` (one origin): fitted on the
    buckets before, with the item's policy method (``auto`` by its demand pattern). Columns:
    keys, rmse (NaN where the history is too short to hold any buckets out).
    """
    import numpy as np
    import pandas as pd

    from core.features import bucket_demand
    from core.forecast import TIME, VALUE, forecast

    horizon = ERROR_HORIZON[bucket]
    demand = bucket_demand(store, level, bucket)
    demand = demand[[*keys, TIME, VALUE]].sort_values([*keys, TIME], kind="mergesort").reset_index(drop=True)
    from_end = demand.groupby(keys, sort=False).cumcount(ascending=False).to_numpy()
    sizes = demand.groupby(keys, sort=False)[TIME].transform("size").to_numpy()
    enough = sizes > horizon
    train, held_out = demand[enough & (from_end >= horizon)], demand[enough & (from_end < horizon)]
    chosen = items[keys].assign(_method=methods.to_numpy(), demand_pattern=items["demand_pattern"].to_numpy())
    parts = []
    for method, group in chosen.groupby("_method", sort=True):
        part = train.merge(group[keys], on=keys, how="inner")
        if part.empty:
            continue
        result = forecast(part, method=str(method), horizon=horizon, patterns=group[[*keys, "demand_pattern"]],
                          bucket=bucket)
        parts.append(result.forecasts.merge(held_out, on=[*keys, TIME], how="inner", validate="one_to_one"))
    if not parts:
        return items[keys].assign(rmse=np.nan)
    compared = pd.concat(parts, ignore_index=True)
    compared["_squared"] = (compared["forecast_quantity"] - compared[VALUE]) ** 2
    rmse = np.sqrt(compared.groupby(keys, sort=False)["_squared"].mean()).rename("rmse").reset_index()
    return items[keys].merge(rmse, on=keys, how="left")


def policy_items(store: Store, version_id: int, *, bucket: str | None = None, demand_source: str = "history",
                 ordering_cost: float | None = None, holding_rate: float | None = None,
                 policies: Sequence[SegmentPolicy] | None = None, default_lead_time_days: float | None = None,
                 ) -> pd.DataFrame:
    """Per item of a version: its segment's policy and the safety stock, reorder point and order
    quantity it gives, with every input each figure came from. The segment is the item's
    effective one (overrides active today applied; module docstring, "Segments of items").

    ``bucket`` defaults to the version's. ``demand_source``: ``history`` or ``forecast_errors``
    (module docstring). ``ordering_cost`` (currency per order) and ``holding_rate`` (share of
    unit cost per year) switch on the EOQ. ``policies`` overrides the version's
    (`version_policies`), e.g. for a what-if with unsaved edits. ``default_lead_time_days`` fills
    products with no lead time from master data or orders (else one bucket is assumed).

    Columns: PLAN_COLUMNS first (product_id, segment, service_level, safety_stock, reorder_point,
    order_quantity, forecast_method, demand_mean, demand_std, lead_time, lead_time_std, z,
    bucket; lead times in buckets), then customer_id (customer_product level), segment_label,
    lead_time_days, lead_time_std_days, lead_time_source, demand_std_source, moq and the rest of
    `core.policy.plan_items`. Make-to-order items have zero stock figures and NaN z.
    """
    from core.policy import BUCKET_DAYS, plan_items

    if demand_source not in DEMAND_SOURCES:
        raise SegplanError(f"demand source {demand_source!r} is unknown", "choose history or forecast_errors")
    if bucket is not None and bucket not in BUCKET_DAYS:
        raise SegplanError(f"bucket {bucket!r} is unknown", "choose week or month")
    if default_lead_time_days is not None and not default_lead_time_days >= 0:
        raise SegplanError(f"default lead time {default_lead_time_days!r} days is negative or not a number",
                           "give 0 or more days")
    version = version_info(store, version_id)
    vid, level = int(version["version_id"]), str(version["level"])
    if level == "customer":
        raise SegplanError(f"version {vid} segments customers; stock policies need products",
                           "plan a version at product (or customer_product) level, see `segplan versions`")
    bucket = bucket or str(version["bucket"])
    keys = ["customer_id", "product_id"] if level == "customer_product" else ["product_id"]
    chosen = list(policies) if policies is not None else version_policies(store, vid)
    items = _version_items(store, version, bucket)
    if items.empty:
        raise SegplanError(f"version {vid} has no items with order lines in the database",
                           "load the orders the version was made on, or segment again")
    master = _product_master(store)
    items = items.drop(columns=[c for c in ("unit_cost", "moq", "lead_time_days") if c in items.columns])
    items = items.merge(master, on="product_id", how="left", validate="many_to_one")
    items["lead_time_source"] = items["lead_time_source"].fillna("missing")
    gap = items["lead_time_days"].isna()
    if gap.any():  # given default, else one bucket, flagged in lead_time_source
        assumed = default_lead_time_days is None
        items.loc[gap, "lead_time_days"] = BUCKET_DAYS[bucket] if assumed else float(default_lead_time_days)
        items.loc[gap, "lead_time_std_days"] = 0.0
        items.loc[gap, "lead_time_source"] = "assumed_one_bucket" if assumed else "default"

    if demand_source == "forecast_errors":
        # the policy's method; "auto" is left to forecast(), which may pick Holt-Winters for seasonal items
        methods = items["segment"].map({str(p.segment): p.forecast_method for p in chosen}).fillna("auto")
        items = items.merge(_forecast_rmse(store, items, keys, level, bucket, methods), on=keys, how="left")
    plan = plan_items(items, chosen, bucket=bucket, ordering_cost=ordering_cost, holding_rate=holding_rate)
    extra = items[["segment_label", "lead_time_days", "lead_time_std_days", "lead_time_source", "moq"]]
    plan = plan.join(extra.reset_index(drop=True))
    plan["moq"] = plan["moq"].astype(float)
    plan["z"] = plan["z"].astype(float)
    first = [*PLAN_COLUMNS, *(["customer_id"] if level == "customer_product" else [])]
    rest = [c for c in plan.columns if c not in first]
    return plan[[*first, *rest]]


# -- allocation of a version's stock ------------------------------------------------------------
#: names a supply file's quantity column may have, the first found is used
SUPPLY_QUANTITY_NAMES = ("available_quantity", "quantity", "stock", "available", "on_hand")
ORDER_COLUMNS = ("order_id", "line_number", "customer_id", "product_id", "quantity")
#: segment of an order line whose item is not in the version: served after every tier
NOT_IN_VERSION = "(not in version)"


def _read_csv(path: os.PathLike[str] | str, what: str) -> pd.DataFrame:
    """A CSV as text (ids keep their leading zeros), headers trimmed; errors name the file."""
    import pandas as pd

    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except FileNotFoundError:
        raise SegplanError(f"{what} file {path}: not found", "give the path of a CSV file") from None
    except pd.errors.EmptyDataError:
        raise SegplanError(f"{what} file {path}: is empty", "write a header row and one row per line") from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SegplanError(f"{what} file {path}: cannot be read as CSV ({first})", "save it as UTF-8 CSV") from None
    known = {*ORDER_COLUMNS, *SUPPLY_QUANTITY_NAMES}
    # the columns segplan reads are matched whatever their case; others keep their names
    frame.columns = [str(c).strip().lower() if str(c).strip().lower() in known else str(c).strip()
                     for c in frame.columns]
    return frame


def _need(frame: pd.DataFrame, path: object, what: str, columns: Sequence[str]) -> None:
    for column in columns:
        if column not in frame.columns:
            raise SegplanError(f"{what} file {path}: column {column!r} is missing",
                               f"the header needs {', '.join(columns)}; it has {', '.join(frame.columns)}")
        empty = frame[column].str.strip() == ""
        if empty.any():
            raise SegplanError(f"{what} file {path}, row {int(empty.to_numpy().argmax()) + 2}, column {column!r}: "
                               "is empty", "every row needs a value there; row 1 is the header")


def _whole(frame: pd.DataFrame, path: object, what: str, column: str, negative_ok: bool) -> pd.Series:
    import numpy as np
    import pandas as pd

    numbers = pd.to_numeric(frame[column].str.strip(), errors="coerce")
    bad = numbers.isna() | ~np.isfinite(numbers) | (numbers != numbers.round())
    if not negative_ok:
        bad |= numbers < 0
    if bad.any():
        row = int(bad.to_numpy().argmax())
        raise SegplanError(f"{what} file {path}, row {row + 2}, column {column!r}: {frame[column].iloc[row]!r} is not "
                           f"a whole {'' if negative_ok else 'non-negative '}number",
                           "allocation works in whole units; row 1 is the header")
    return numbers.astype("int64")


def read_supply(path: os.PathLike[str] | str) -> pd.DataFrame:
    """A supply CSV: product_id and available_quantity (or quantity, stock, available, on_hand).

    Returns product_id and available_quantity (whole units; several rows of a product are added
    up by the allocation, a negative balance counts as 0)."""
    import pandas as pd

    frame = _read_csv(path, "supply")
    column = next((c for c in SUPPLY_QUANTITY_NAMES if c in frame.columns), None)
    if column is None:
        raise SegplanError(f"supply file {path}: no column available_quantity",
                           f"name the stock column one of {', '.join(SUPPLY_QUANTITY_NAMES)}; it has "
                           f"{', '.join(frame.columns)}")
    _need(frame, path, "supply", ("product_id", column))
    return pd.DataFrame({"product_id": frame["product_id"].str.strip(),
                         "available_quantity": _whole(frame, path, "supply", column, negative_ok=True)})


def read_orders(path: os.PathLike[str] | str, level: str = "product") -> pd.DataFrame:
    """An open-order-lines CSV: order_id, line_number (optional), customer_id, product_id,
    quantity (whole, not negative); other columns are carried through. customer_id is
    required when the version's level has customers. Columns are kept as text but quantity."""
    frame = _read_csv(path, "orders")
    needed = ["order_id", "product_id", "quantity"] + (["customer_id"] if level != "product" else [])
    _need(frame, path, "orders", needed)
    frame["quantity"] = _whole(frame, path, "orders", "quantity", negative_ok=False)
    return frame


def allocate_version(store: Store, version_id: int, supply: pd.DataFrame, orders: pd.DataFrame,
                     policies: Sequence[SegmentPolicy] | None = None):
    """Allocate ``supply`` (read_supply) to open ``orders`` (read_orders) by the version's tiers.

    Each line's segment is that of its item in the version (product level: the product's;
    customer level: the customer's; customer_product: the pair's), with the overrides active
    today applied (`core.overrides.effective_assignments`), and its tier that segment's
    policy's allocation_tier (`version_policies`, or ``policies`` when given, e.g. unsaved edits;
    then every segment of the version needs one). A line whose item is not in the version gets
    segment NOT_IN_VERSION and the tier after the lowest. Returns `core.allocation.AllocationResult`
    whose lines are the input columns + segment, allocation_tier, allocated_quantity,
    cut_quantity, and whose summary is per segment (fill_rate = allocated / ordered).
    """
    import numpy as np
    import pandas as pd

    from core.allocation import AllocationResult, allocate, allocation_summary
    from core.features import key_columns
    from core.overrides import effective_assignments

    version = version_info(store, version_id)
    vid, level = int(version["version_id"]), str(version["level"])
    keys = list(key_columns(level))
    missing = [k for k in keys if k not in orders.columns]
    if missing:
        raise SegplanError(f"orders: column {missing[0]!r} is missing",
                           f"version {vid} is at {level} level, so each line needs {', '.join(keys)}")
    if policies is None:
        tiers = {str(p.segment): int(p.allocation_tier) for p in version_policies(store, vid)}
    else:
        tiers = {str(p.segment): int(p.allocation_tier) for p in policies}
        lacking = [s for s in _segments(store, vid) if str(s) not in tiers]
        if lacking:
            raise SegplanError(f"version {vid}: segment {lacking[0]!r} has no policy",
                               "give a policy (with its allocation_tier) for every segment of the version")
    assigned = effective_assignments(store, vid)[[*keys, "segment"]]
    assigned = assigned.assign(segment=assigned["segment"].astype(str),
                               **{k: assigned[k].astype(str) for k in keys})
    lookup = orders[keys].astype(str).apply(lambda s: s.str.strip())
    segment = lookup.merge(assigned, on=keys, how="left", validate="many_to_one")["segment"]
    segment = segment.fillna(NOT_IN_VERSION).to_numpy(dtype=object)
    last = max(tiers.values(), default=0) + 1
    tier = np.array([tiers.get(s, last) for s in segment], dtype=np.int64)
    if "line_number" in orders.columns:
        text = orders["line_number"].astype(str).str.strip()
        numeric = pd.to_numeric(text, errors="coerce")
        line = numeric if numeric.notna().all() else text  # 2 before 10 when all are numbers
    else:
        line = orders.groupby("order_id", sort=False).cumcount() + 1
    work = pd.DataFrame({"order_id": orders["order_id"].astype(str).str.strip().to_numpy(), "line": line.to_numpy(),
                         "product_id": orders["product_id"].astype(str).str.strip().to_numpy(),
                         "quantity": orders["quantity"].to_numpy(np.int64), "segment": segment,
                         "allocation_tier": tier})
    stock = pd.DataFrame({"product_id": supply["product_id"].to_numpy(),
                          "available": supply["available_quantity"].to_numpy(np.int64)})
    result = allocate(stock, work)
    lines = orders.copy()
    lines["segment"] = segment
    lines["allocation_tier"] = tier
    lines["allocated_quantity"] = result.lines["allocated"].to_numpy(np.int64)
    lines["cut_quantity"] = result.lines["cut"].to_numpy(np.int64)
    summary = allocation_summary(result.lines)
    summary.insert(1, "allocation_tier", summary["segment"].map(lambda s: tiers.get(s, last)).astype("int64"))
    summary = summary.sort_values(["allocation_tier", "segment"], kind="mergesort", ignore_index=True)
    return AllocationResult(lines=lines, summary=summary)
