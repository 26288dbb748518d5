"""Planner overrides: move one item of a version to another segment, with a reason, maybe until a date.

The model's assignment stays as it was (``segment_assignments``); an override is a row of
``segment_overrides`` on top of it, and `effective_assignments` applies them. It is the one
source of *the segment an item is in for planning and monitoring*: exports (`core.export`), the
version diff (`core.diff`), the policy plan, its default policies and the allocation tiers
(`core.policy_plan`), the delivery KPIs (`core.kpi`, `core.kpi_report`), forecast accuracy
(`core.kpi_forecast`), inventory turns (`core.kpi_inventory`) and cost-to-serve per segment
(`core.cost_to_serve`) all read it. The model's own assignments (`core.versions.assignments`)
are read on purpose where the model itself is the subject: boundary-drift alerts
(`core.alerts`) measure the model's geometry, and the Explain surrogate (`core.explain_version`)
explains the model's decision. An override is *active* on a day when it is not withdrawn and
that day is before its ``expires_on`` (no date: no expiry). One item has at most one active
override: a new one withdraws the old. Only editable versions (draft or rejected, `core.approval.check_editable`)
take or lose overrides.

**Carry-over.** When a new version of a level is saved, `carry_over` (called inside the
save's transaction) copies the active overrides of the level's version in force (else of the
newest earlier version) to it. The target segment is the new segment with the same name, else
the new segment holding most of the old target segment's items. An override whose item is not
in the new version, or whose target has no counterpart, is reported in the new version's
``overrides_carried`` event instead. Each carried override is marked ``model_agrees`` when the
new model already puts the item where the planner had moved it.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from core import audit
from core.errors import SegplanError
from core.features import key_columns
from core.store import Store, quote_ident
from core.users import require

if TYPE_CHECKING:
    import duckdb
    import pandas as pd

#: Separates customer and product in the key of a customer_product item ("C042|P0007").
KEY_SEPARATOR = "|"
_MATCH_ITEM = "customer_id IS NOT DISTINCT FROM ? AND product_id IS NOT DISTINCT FROM ?"
_ACTIVE = "withdrawn_at IS NULL AND (expires_on IS NULL OR expires_on > ?)"


@dataclass(frozen=True)
class CarryOver:
    """What a save carried over from the earlier version."""

    from_version: int | None
    carried: int = 0
    model_agrees: int = 0
    not_carried: list[dict[str, str]] = field(default_factory=list)


# -- items and segments ------------------------------------------------------------------------
def item_key(level: str, item: object) -> tuple[str | None, str | None]:
    """(customer_id, product_id) of an item given as its key text, a pair, or a mapping of key columns.

    A customer_product item is ``"CUSTOMER|PRODUCT"`` (or a pair); the other levels take the id.
    """
    keys = key_columns(level)
    if isinstance(item, Mapping):
        values = [item.get(k) for k in keys]
    elif isinstance(item, str):
        values = item.split(KEY_SEPARATOR, 1) if len(keys) == 2 else [item]
    elif isinstance(item, Sequence):
        values = list(item)
    else:
        values = [item]
    values = [None if v is None else str(v).strip() for v in values]
    if len(values) != len(keys) or not all(values):
        form = "CUSTOMER|PRODUCT" if len(keys) == 2 else keys[0].replace("_id", " id")
        raise SegplanError(f"item {item!r} is not a {level} key", hint=f"give it as {form}")
    found = dict(zip(keys, values, strict=True))
    return found.get("customer_id"), found.get("product_id")


def key_text(customer_id: str | None, product_id: str | None) -> str:
    """An item's key as planners type it: the id, or CUSTOMER|PRODUCT."""
    return KEY_SEPARATOR.join(v for v in (customer_id, product_id) if v is not None)


def _header(cur: duckdb.DuckDBPyConnection, version_id: int) -> tuple[int, str, str, dict[str, str]]:
    """(id, level, status, segment -> name) of a version read on ``cur`` (inside a transaction too)."""
    from core.approval import _version_row

    vid, level, status = _version_row(cur, version_id)
    auto, labels = cur.execute("SELECT auto_names, labels FROM segment_versions WHERE version_id = ?",
                               [vid]).fetchone()
    labels = json.loads(labels)
    names = {seg: labels.get(seg, name) for seg, name in json.loads(auto).items()}
    return vid, level, status, names


def _segment_of(names: Mapping[str, str], segment: object, version_id: int) -> str:
    """The segment (as saved text) named by its id or its name (exact, then ignoring case)."""
    text = str(segment).strip()
    if text in names:
        return text
    for wanted in (text, text.casefold()):
        hits = [seg for seg, name in names.items() if (name if wanted == text else name.casefold()) == wanted]
        if len(hits) == 1:
            return hits[0]
    raise SegplanError(f"version {version_id} has no segment {segment!r}",
                       hint="choose one of: " + ", ".join(f"{seg} ({name})" for seg, name in names.items()))


def _model_segment(cur: duckdb.DuckDBPyConnection, version_id: int, customer: str | None,
                   product: str | None) -> str | None:
    row = cur.execute(f"SELECT segment FROM segment_assignments WHERE version_id = ? AND {_MATCH_ITEM}",
                      [version_id, customer, product]).fetchone()
    return None if row is None else str(row[0])


def _active_override(cur: duckdb.DuckDBPyConnection, version_id: int, customer: str | None, product: str | None,
                     today: dt.date) -> tuple | None:
    return cur.execute(
        f"""SELECT override_id, segment, reason, expires_on FROM segment_overrides
            WHERE version_id = ? AND {_MATCH_ITEM} AND {_ACTIVE}""",
        [version_id, customer, product, today]).fetchone()


def _withdraw(cur: duckdb.DuckDBPyConnection, override_id: int, user: str, reason: str | None,
              now: dt.datetime, replaced_by: int | None = None) -> None:
    before = cur.execute("SELECT segment, reason, expires_on FROM segment_overrides WHERE override_id = ?",
                         [override_id]).fetchone()
    cur.execute("UPDATE segment_overrides SET withdrawn_by = ?, withdrawn_at = ? WHERE override_id = ?",
                [user, now, override_id])
    audit.record(cur, user=user, action="withdraw", entity="override", entity_id=override_id,
                 before={"segment": before[0], "reason": before[1], "expires_on": before[2]},
                 after={"withdrawn": True, "replaced_by": replaced_by}, reason=reason)


# -- add and withdraw --------------------------------------------------------------------------
def add_override(store: Store, version_id: int, item: object, segment: object, user: str, reason: str,
                 expires_on: dt.date | str | None = None, *, today: dt.date | None = None) -> int:
    """Move one item of an editable version to ``segment`` (its id or name); returns the override id.

    Needs ``override``. The reason is required; ``expires_on`` must be after today. An active
    override of the same item is withdrawn in the same transaction.
    """
    require(store, user, "override")
    text = (reason or "").strip()
    if not text:
        raise SegplanError("an override needs a reason", hint="say why the item belongs elsewhere (--reason TEXT)")
    today = today or dt.date.today()
    if isinstance(expires_on, str):
        try:
            expires_on = dt.date.fromisoformat(expires_on.strip())
        except ValueError:
            raise SegplanError(f"expiry {expires_on!r} is not a date", hint="give it as YYYY-MM-DD") from None
    if expires_on is not None and expires_on <= today:
        raise SegplanError(f"expiry {expires_on} is not in the future", hint=f"give a date after {today}")
    with store.transaction() as cur:
        from core.approval import check_editable

        vid, level, _, names = _header(cur, version_id)
        check_editable(cur, vid, "overridden")
        customer, product = item_key(level, item)
        target = _segment_of(names, segment, vid)
        model = _model_segment(cur, vid, customer, product)
        if model is None:
            raise SegplanError(f"item {key_text(customer, product)} is not in version {vid}",
                               hint=f"give the key of a {level} item of the version")
        old = _active_override(cur, vid, customer, product, today)
        if target == model:
            hint = "withdraw its override instead" if old else "choose another segment"
            raise SegplanError(f"the model already puts {key_text(customer, product)} in segment {target} "
                               f"({names[target]})", hint=hint)
        now = dt.datetime.now()
        override_id = int(cur.execute(
            """INSERT INTO segment_overrides (version_id, customer_id, product_id, model_segment, segment, reason,
                                              expires_on, created_by, created_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING override_id""",
            [vid, customer, product, model, target, text, expires_on, user, now]).fetchone()[0])
        if old:
            _withdraw(cur, int(old[0]), user, text, now, replaced_by=override_id)
        audit.record(cur, user=user, action="override", entity="override", entity_id=override_id,
                     before=None if old is None else {"override_id": int(old[0]), "segment": old[1]},
                     after={"version_id": vid, "item": key_text(customer, product), "model_segment": model,
                            "segment": target, "expires_on": expires_on},
                     reason=text)
    return override_id


def withdraw_override(store: Store, override_id: int, user: str, reason: str | None = None) -> None:
    """Take an override back (the item returns to the model's segment). Needs ``override``."""
    require(store, user, "override")
    with store.transaction() as cur:
        from core.approval import check_editable

        row = cur.execute("SELECT version_id, withdrawn_at FROM segment_overrides WHERE override_id = ?",
                          [int(override_id)]).fetchone()
        if row is None:
            raise SegplanError(f"override {override_id} does not exist", hint="see the overrides of the version")
        if row[1] is not None:
            raise SegplanError(f"override {override_id} was already withdrawn on {row[1]:%Y-%m-%d %H:%M}")
        check_editable(cur, int(row[0]), "overridden")
        _withdraw(cur, int(override_id), user, (reason or "").strip() or None, dt.datetime.now())


# -- read --------------------------------------------------------------------------------------
def overrides(store: Store, version_id: int, active_on: dt.date | None = None) -> pd.DataFrame:
    """Overrides of a version, oldest first; only those active on ``active_on`` when given.

    Columns: override_id, the level's key columns, item (key text), model_segment, segment,
    segment_label, reason, expires_on, created_by, created_at, carried_from (override id),
    carried_from_version, model_agrees (the model puts the item where the override does),
    withdrawn_by, withdrawn_at, active (today, or on ``active_on``). Segments are text.
    """
    cur = store.cursor()
    vid, level, _, names = _header(cur, version_id)
    on = active_on or dt.date.today()
    frame = cur.execute(
        """SELECT o.override_id, o.customer_id, o.product_id, o.model_segment, o.segment, o.reason, o.expires_on,
                   o.created_by, o.created_at, o.carried_from, f.version_id AS carried_from_version,
                   o.segment = o.model_segment AS model_agrees, o.withdrawn_by, o.withdrawn_at,
                   (o.withdrawn_at IS NULL AND (o.expires_on IS NULL OR o.expires_on > ?)) AS active
            FROM segment_overrides o LEFT JOIN segment_overrides f ON f.override_id = o.carried_from
            WHERE o.version_id = ? ORDER BY o.override_id""", [on, vid]).df()
    if active_on is not None:
        frame = frame[frame["active"]].reset_index(drop=True)
    keys = list(key_columns(level))
    item = [key_text(c, p) for c, p in zip(frame["customer_id"], frame["product_id"], strict=True)]
    frame = frame.drop(columns=[c for c in ("customer_id", "product_id") if c not in keys])
    frame.insert(1 + len(keys), "item", item)
    frame.insert(frame.columns.get_loc("segment") + 1, "segment_label", frame["segment"].map(names))
    return frame


def effective_assignments(store: Store, version_id: int, on: dt.date | None = None) -> pd.DataFrame:
    """The version's assignments with the overrides active ``on`` (default today) applied.

    The segment an item is in for planning and monitoring (module docstring). One SQL join of
    ``segment_assignments`` to the active ``segment_overrides`` (no loop over items), in
    item_position order. Columns: the level's key columns, segment and segment_label (the
    planner's where overridden, with the version's name of that segment: the rename, else the
    automatic name), model_segment (the model's), overridden, override_reason, override_by,
    expires_on, distance_own, distance_next, boundary_margin (the model's distances). Segment
    types as in `core.versions.assignments`: whole numbers for clustering versions, else text.
    Should an item ever hold two active overrides, the newest applies.
    """
    from core.versions import ASSIGNMENT_COLUMNS, _final_names, _header as version_header, _segment_values

    header = version_header(store, version_id)
    vid, method = int(header["version_id"]), str(header["method"])
    keys = list(key_columns(str(header["level"])))
    distances = [c for c in ASSIGNMENT_COLUMNS if c not in ("segment", "segment_label")]
    allowed = frozenset(distances)
    select = ", ".join([*(f"a.{quote_ident(k)}" for k in keys),
                        *(f"a.{quote_ident(c, allowed=allowed)}" for c in distances)])
    frame = store.cursor().execute(
        f"""WITH active AS (
                SELECT customer_id, product_id, segment, reason, created_by, expires_on
                FROM segment_overrides WHERE version_id = ? AND {_ACTIVE}
                QUALIFY row_number() OVER (PARTITION BY customer_id, product_id ORDER BY override_id DESC) = 1
            )
            SELECT {select}, coalesce(o.segment, a.segment) AS segment, a.segment_label,
                   a.segment AS model_segment, o.segment IS NOT NULL AS overridden,
                   o.reason AS override_reason, o.created_by AS override_by, o.expires_on
            FROM segment_assignments AS a
            LEFT JOIN active AS o ON o.customer_id IS NOT DISTINCT FROM a.customer_id
                                 AND o.product_id IS NOT DISTINCT FROM a.product_id
            WHERE a.version_id = ? ORDER BY a.item_position""",
        [vid, on or dt.date.today(), vid]).df()
    moved = frame["overridden"].to_numpy(dtype=bool)
    if moved.any():
        frame.loc[moved, "segment_label"] = frame.loc[moved, "segment"].map(_final_names(header))
    frame["segment"] = _segment_values(frame["segment"], method)
    frame["model_segment"] = _segment_values(frame["model_segment"], method)
    columns = [*keys, "segment", "segment_label", "model_segment", "overridden", "override_reason", "override_by",
               "expires_on", *distances]
    return frame[columns]


# -- carry-over --------------------------------------------------------------------------------
def _source_version(cur: duckdb.DuckDBPyConnection, version_id: int, level: str) -> int | None:
    """The level's version in force, else the newest earlier version of the level."""
    row = cur.execute(
        """SELECT version_id FROM segment_versions WHERE level = ? AND version_id < ?
           ORDER BY status = 'approved' DESC, version_id DESC LIMIT 1""", [level, version_id]).fetchone()
    return None if row is None else int(row[0])


def _counterpart(cur: duckdb.DuckDBPyConnection, old_vid: int, old_segment: str, old_name: str, new_vid: int,
                 new_names: Mapping[str, str]) -> str | None:
    """The new segment for an old one: the same name, else the one holding most of its items."""
    same = [seg for seg, name in new_names.items() if name == old_name]
    if same:
        return same[0]
    row = cur.execute(
        """SELECT n.segment, count(*) AS items
           FROM segment_assignments o JOIN segment_assignments n
             ON n.version_id = ? AND n.customer_id IS NOT DISTINCT FROM o.customer_id
                AND n.product_id IS NOT DISTINCT FROM o.product_id
           WHERE o.version_id = ? AND o.segment = ?
           GROUP BY n.segment ORDER BY items DESC, n.segment LIMIT 1""", [new_vid, old_vid, old_segment]).fetchone()
    return None if row is None else str(row[0])


def carry_over(cur: duckdb.DuckDBPyConnection, version_id: int, user: str | None,
               today: dt.date | None = None) -> CarryOver:
    """Copy the active overrides of the level's earlier version to the new ``version_id``.

    Runs on the cursor of the save's transaction (the new version's assignments are visible
    there). Carried rows keep their creator and reason, point at the original (``carried_from``)
    and are audited; the outcome is one ``overrides_carried`` event on the new version.
    """
    vid, level, _, new_names = _header(cur, version_id)
    source = _source_version(cur, vid, level)
    if source is None:
        return CarryOver(None)
    today = today or dt.date.today()
    rows = cur.execute(
        f"""SELECT override_id, customer_id, product_id, segment, reason, expires_on, created_by
            FROM segment_overrides WHERE version_id = ? AND {_ACTIVE} ORDER BY override_id""",
        [source, today]).fetchall()
    if not rows:
        return CarryOver(source)
    _, _, _, old_names = _header(cur, source)
    now = dt.datetime.now()
    carried = agrees = 0
    not_carried: list[dict[str, str]] = []
    for override_id, customer, product, old_target, reason, expires_on, created_by in rows:
        item = key_text(customer, product)
        model = _model_segment(cur, vid, customer, product)
        target = _counterpart(cur, source, old_target, old_names.get(old_target, old_target), vid, new_names)
        if model is None or target is None:
            why = "item not in this version" if model is None else "no segment of this version matches its target"
            not_carried.append({"item": item, "segment": old_names.get(old_target, old_target), "reason": why})
            continue
        new_id = int(cur.execute(
            """INSERT INTO segment_overrides (version_id, customer_id, product_id, model_segment, segment, reason,
                                              expires_on, created_by, created_at, carried_from)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING override_id""",
            [vid, customer, product, model, target, reason, expires_on, created_by, now, override_id]).fetchone()[0])
        carried += 1
        agrees += model == target
        audit.record(cur, user=user, action="carry_over", entity="override", entity_id=new_id,
                     before={"override_id": int(override_id), "version_id": source, "segment": old_target},
                     after={"version_id": vid, "item": item, "segment": target, "model_agrees": model == target},
                     reason=reason)
    result = CarryOver(source, carried, agrees, not_carried)
    cur.execute("INSERT INTO segment_version_events VALUES (?, ?, ?, 'overrides_carried', ?)",
                [vid, now, user, json.dumps({"from_version": source, "carried": carried, "model_agrees": agrees,
                                             "not_carried": not_carried})])
    return result


def carry_over_report(store: Store, version_id: int) -> CarryOver | None:
    """What the save of a version carried over (None when there was nothing to carry)."""
    row = store.cursor().execute(
        """SELECT detail FROM segment_version_events WHERE version_id = ? AND action = 'overrides_carried'
           ORDER BY event_at DESC LIMIT 1""", [int(version_id)]).fetchone()
    if row is None:
        return None
    detail = json.loads(row[0])
    return CarryOver(detail["from_version"], detail["carried"], detail["model_agrees"], detail["not_carried"])
