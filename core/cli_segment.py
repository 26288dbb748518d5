"""`segplan segment|assignments|explain|versions`: segment the items of a level and read the saved versions.

Registered on the app by the import in core/cli.py.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Optional

import typer

from core.cli_common import DbOption, OutOption, UserOption, _acting_user, _open_store, _run, _write_csv, app
from core.errors import SegplanError

SEGMENT_METHODS = ("kmeans", "hierarchical", "hdbscan", "gmm", "abc_xyz", "demand_pattern", "rules")
#: methods whose segments come from classes or rules: --k does not apply to them
_RULE_METHODS = ("abc_xyz", "demand_pattern", "rules")


def _parse_k(text: str) -> int | str:
    """--k: a whole number of segments or 'auto'."""
    if text.strip().lower() == "auto":
        return "auto"
    try:
        return int(text)
    except ValueError:
        raise SegplanError(f"--k {text!r} is not a whole number or 'auto'", hint="for example --k 4 or --k auto") from None


def _parse_features(text: str | None) -> list[str] | None:
    """--features a,b,c: feature names, or None for all features."""
    if text is None:
        return None
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise SegplanError(f"--features {text!r} names no feature", hint="for example --features revenue,cv,orders")
    return names


def _parse_weights(text: str | None) -> dict[str, float] | None:
    """--weights a=2,b=0.5: a weight from 0 (drop) to 5 per feature."""
    if text is None:
        return None
    weights: dict[str, float] = {}
    for part in text.split(","):
        name, sep, value = part.partition("=")
        name = name.strip()
        try:
            weight = float(value)
        except ValueError:
            weight = float("nan")
        if not sep or not name or math.isnan(weight):
            raise SegplanError(f"--weights {text!r}: {part.strip()!r} is not FEATURE=WEIGHT",
                               hint="for example --weights revenue=2,cv=0.5")
        if not 0.0 <= weight <= 5.0:
            raise SegplanError(f"--weights: weight of {name!r} is {value.strip()}, not from 0 to 5",
                               hint="0 drops a feature, 1 is neutral, 5 counts it most")
        if name in weights:
            raise SegplanError(f"--weights: {name!r} is given twice", hint="give each feature one weight")
        weights[name] = weight
    return weights


def _read_rules(path: Path | None, method: str) -> list[object] | None:
    """--rules FILE.json: the rule list of method rules (see docs/cli.md for the format)."""
    if path is None:
        return None
    if method != "rules":
        raise SegplanError(f"--rules {path} is given with --method {method}", hint="use --rules only with --method rules")
    try:
        rules = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SegplanError(f"--rules {path}: file not found", hint="give the path of a JSON rule list") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SegplanError(f"--rules {path}: cannot be read ({exc})", hint="give the path of a JSON rule list") from None
    except json.JSONDecodeError as exc:
        raise SegplanError(f"--rules {path}: not valid JSON ({exc.msg} at line {exc.lineno})",
                           hint='write a list such as [{"name": "Key", "when": [["abc", "==", "A"]]}, {"name": "Other"}]') from None
    if not isinstance(rules, list):
        raise SegplanError(f"--rules {path}: holds a {type(rules).__name__}, not a list of rules",
                           hint='write a list such as [{"name": "Key", "when": [["abc", "==", "A"]]}, {"name": "Other"}]')
    return rules


@app.command()
def segment(
    ctx: typer.Context,
    level: Annotated[str, typer.Option("--level", help="Item level: product, customer or customer_product.")],
    method: Annotated[str, typer.Option("--method", help="kmeans, hierarchical, hdbscan, gmm, abc_xyz, demand_pattern or rules.")],
    k: Annotated[str, typer.Option("--k", help="Number of segments, or auto (best silhouette of k = 2..10).")] = "auto",
    features_: Annotated[Optional[str], typer.Option("--features", help="Features to cluster on, comma-separated (default: the level's set, see docs/cli.md).")] = None,
    weights: Annotated[Optional[str], typer.Option("--weights", help="Feature weights from 0 to 5: FEATURE=WEIGHT,...")] = None,
    min_share: Annotated[float, typer.Option("--min-share", help="Smallest segment as a share of the measure; smaller ones are merged.")] = 0.05,
    min_items: Annotated[int, typer.Option("--min-items", help="Smallest segment in items; smaller ones are merged.")] = 1,
    seed: Annotated[int, typer.Option("--seed", help="Random seed; the same seed and data give the same segments.")] = 0,
    bucket: Annotated[str, typer.Option("--bucket", help="Demand bucket: week or month.")] = "week",
    measure: Annotated[Optional[str], typer.Option(
        "--measure", help="What ABC and --min-share measure: revenue, quantity, margin or lines "
        "(default: revenue, or quantity when no order line has a price).", show_default=False)] = None,
    rules: Annotated[Optional[Path], typer.Option("--rules", help="JSON rule list for --method rules.")] = None,
    min_cluster_size: Annotated[Optional[int], typer.Option(
        "--min-cluster-size", help="HDBSCAN's smallest group in items (default: 1% of items, at least 10).",
        show_default=False)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print version, k and metrics as one JSON object.")] = False,
    user: UserOption = None,
    db: DbOption = None,
) -> None:
    """Segment the items of a level and save the result as a new draft version."""

    def body() -> None:
        if method not in SEGMENT_METHODS:
            raise SegplanError(f"--method {method!r} is unknown", hint="choose one of: " + ", ".join(SEGMENT_METHODS))
        k_value = "auto" if method in _RULE_METHODS else _parse_k(k)
        chosen = _parse_features(features_)
        weight_map = _parse_weights(weights)
        rule_list = _read_rules(rules, method)
        engine_options = {}
        if min_cluster_size is not None:
            if method != "hdbscan":
                raise SegplanError(f"--min-cluster-size is given with --method {method}",
                                   hint="use --min-cluster-size only with --method hdbscan")
            engine_options["options"] = {"min_cluster_size": min_cluster_size}
        from core.overrides import carry_over_report
        from core.versions import run_segmentation

        with _open_store(ctx, db) as store:
            saved = run_segmentation(store, level, method, bucket=bucket, k=k_value, features=chosen,
                                     weights=weight_map, min_share=min_share, min_items=min_items, seed=seed,
                                     rules=rule_list, measure=measure, user=_acting_user(store, user, "segment"),
                                     **engine_options)
            # the save carried the level's active overrides into the new version (core.overrides.carry_over)
            carried = carry_over_report(store, saved.version_id)
        result = saved.result
        if as_json:
            metrics = result.to_record()["metrics"]
            typer.echo(json.dumps({"version": saved.version_id, "k": result.k, "metrics": metrics,
                                   "carried_overrides": {
                                       "from_version": None if carried is None else carried.from_version,
                                       "carried": 0 if carried is None else carried.carried,
                                       "model_agrees": 0 if carried is None else carried.model_agrees,
                                       "not_carried": [] if carried is None else list(carried.not_carried)}},
                                  allow_nan=False))
            return
        typer.echo(f"version {saved.version_id}: {method} on {len(result.assignments)} {level} items "
                   f"({bucket} buckets, ABC on {result.parameters['items']['abc_measure']}), k = {result.k}")
        for row in result.profile.itertuples(index=False):
            typer.echo(f"  {row.segment!s:>12}  {row.items:>7} items  {row.measure_share:>6.1%} of {row.measure}  "
                       f"{row.segment_label}")
        for source, into, reason in result.merges:
            typer.echo(f"  merged {source} into {into}: {reason}")
        silhouette = result.metrics.get("silhouette")
        if silhouette is not None and silhouette == silhouette:
            typer.echo(f"  silhouette {silhouette:.3f}")
        if carried is not None:
            typer.echo(f"carried {carried.carried} override{'' if carried.carried == 1 else 's'} from version "
                       f"{carried.from_version} ({carried.model_agrees} now agree{'s' if carried.model_agrees == 1 else ''}"
                       " with the model)")
            for gone in carried.not_carried:
                typer.echo(f"  not carried: {gone['item']} (to {gone['segment']}): {gone['reason']}")

    _run(body)


@app.command()
def assignments(
    ctx: typer.Context,
    version: Annotated[int, typer.Option("--version", help="Segmentation version id (see `segplan versions`).")],
    out: OutOption,
    db: DbOption = None,
) -> None:
    """Write the items of a saved segmentation version with their segment and boundary distances."""

    def body() -> None:
        from core.versions import assignments as version_assignments

        with _open_store(ctx, db) as store:
            frame = version_assignments(store, version)
        _write_csv(frame, out)
        typer.echo(f"{len(frame)} assignments of version {version} written to {out}")

    _run(body)


@app.command()
def explain(
    ctx: typer.Context,
    version: Annotated[int, typer.Option("--version", help="Segmentation version id (see `segplan versions`).")],
    out: OutOption,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the surrogate model and its train/test split.")] = 0,
    db: DbOption = None,
) -> None:
    """Per item, the SHAP value of each feature for its own segment and the base value (log-odds)."""

    def body() -> None:
        from core.explain import explain_items
        from core.explain_version import explain_version

        with _open_store(ctx, db) as store:
            explained = explain_version(store, version, seed=seed)
            frame = explain_items(explained.surrogate, explained.items, own_segment_only=True)
        _write_csv(frame, out)
        typer.echo(f"{len(frame)} items of version {version} explained to {out} "
                   f"(surrogate fidelity on held-out items: {explained.surrogate.fidelity:.1%})")
        if not explained.data_is_current:
            typer.echo("note: the data changed since this version was saved; current items were explained", err=True)

    _run(body)


@app.command()
def versions(
    ctx: typer.Context,
    level: Annotated[Optional[str], typer.Option("--level", help="Only versions of this level.")] = None,
    db: DbOption = None,
) -> None:
    """List the saved segmentation versions, newest first."""

    def body() -> None:
        from core.versions import list_versions

        with _open_store(ctx, db) as store:
            frame = list_versions(store, level)
        for row in frame.itertuples(index=False):
            typer.echo(f"{row.version_id:>5}  {row.created_at:%Y-%m-%d %H:%M}  {row.level:<16} {row.bucket:<5} "
                       f"{row.method:<14} k={row.k:<3} {row.items:>9} items  {row.status:<9} {row.user_name or ''}")

    _run(body)
