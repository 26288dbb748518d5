"""The `segplan` command line: the batch face of the same core the app uses.

Each command is a thin wrapper over one core function. A problem the user can fix
(`SegplanError`) prints one line on stderr and exits 1; heavy modules are imported inside
commands so that `segplan --help` answers at once.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional, TypeVar

import typer

from core.errors import SegplanError

if TYPE_CHECKING:
    from core.store import Store

app = typer.Typer(
    name="segplan",
    help="Supply-chain segmentation planner: ingest order history, compute features, classify.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

T = TypeVar("T")


class Level(str, Enum):
    product = "product"
    customer = "customer"
    customer_product = "customer_product"


class Bucket(str, Enum):
    week = "week"
    month = "month"


class Measure(str, Enum):
    revenue = "revenue"
    quantity = "quantity"
    margin = "margin"
    lines = "lines"


class Mode(str, Enum):
    append = "append"
    replace = "replace"


DbOption = Annotated[
    Optional[Path],
    typer.Option("--db", help="Database file (default: $SEGPLAN_DB, else data/segplan.duckdb).", show_default=False),
]
OutOption = Annotated[Path, typer.Option("--out", help="CSV file to write.")]
LevelOption = Annotated[Level, typer.Option("--level", help="Item level.")]
UserOption = Annotated[Optional[str], typer.Option(
    "--user", help="Who does this: named in the audit trail and checked against the account's role "
    "(default: the OS user).", show_default=False)]
BucketOption = Annotated[Bucket, typer.Option("--bucket", help="Demand bucket.")]
VersionOption = Annotated[int, typer.Option("--version", help="Segmentation version id (see `segplan versions`).")]
ReasonOption = Annotated[Optional[str], typer.Option("--reason", help="Why, kept in the audit trail.",
                                                      show_default=False)]

# Options a command checks itself rather than typer, so that a missing or wrong value, like any other
# problem, is one line on stderr and exit status 1 before anything is read or written
# (`_required_version`, `_required_out`, `_choice`).
RequiredVersionOption = Annotated[Optional[int], typer.Option(
    "--version", help="Segmentation version id, required (see `segplan versions`).", show_default=False)]
RequiredOutOption = Annotated[Optional[Path], typer.Option("--out", help="CSV file to write (required).",
                                                           show_default=False)]
BUCKETS = tuple(bucket.value for bucket in Bucket)


@app.callback()
def main(ctx: typer.Context, db: DbOption = None) -> None:
    """segplan: segment customers and products from order history."""
    ctx.obj = {"db": db}


def _db(ctx: typer.Context, db: Path | None) -> Path | None:
    """A command's own --db wins over the global one given before the command."""
    return db or (ctx.obj or {}).get("db")


def _fail(message: str) -> None:
    typer.echo(f"segplan: error: {message}", err=True)
    raise typer.Exit(1)


@contextmanager
def _open_store(ctx: typer.Context, db: Path | None) -> Iterator[Store]:
    from core.store import Store

    with Store(_db(ctx, db)) as store:
        yield store


def _acting_user(store: Store, user: str | None, action: str) -> str:
    """The user a write is done as (default: the OS user), refused when its role may not take ``action``.

    With no accounts in the database anyone may (the local admin); see docs/governance.md.
    """
    import getpass

    from core.users import require

    name = (user or "").strip() or getpass.getuser()
    require(store, name, action)
    return name


def _run(action: Callable[[], T]) -> T:
    """Run a command body; a SegplanError becomes one line on stderr and exit status 1."""
    try:
        return action()
    except SegplanError as exc:
        _fail(str(exc))
        raise  # unreachable: _fail exits


def _write_csv(frame, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(out, index=False)


def _required_version(version: int | None) -> int:
    if version is None:
        raise SegplanError("--version ID is missing", hint="see `segplan versions` for the saved versions")
    return version


def _required_out(out: Path | None) -> Path:
    if out is None:
        raise SegplanError("--out FILE.csv is missing", hint="name the CSV file to write, e.g. --out FILE.csv")
    return out


def _choice(option: str, value: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise SegplanError(f"{option} {value!r} is unknown", hint="choose one of: " + ", ".join(choices))
    return value


def _parse_cutoffs(text: str, option: str) -> tuple[float, float]:
    try:
        first, second = (float(part) for part in text.split(","))
    except ValueError:
        raise SegplanError(f"{option} {text!r} is not two numbers separated by a comma", hint=f"for example {option} 0.8,0.95") from None
    return first, second


@app.command()
def init(
    ctx: typer.Context,
    sample: Annotated[bool, typer.Option("--sample", help="Load the sample data set into the database.")] = False,
    sample_dir: Annotated[Path, typer.Option("--sample-dir", help="Folder of the sample files.")] = Path("sample_data"),
    user: UserOption = None,
    db: DbOption = None,
) -> None:
    """Create (or migrate) the database; with --sample, load the sample distributor's data."""

    def body() -> None:
        with _open_store(ctx, db) as store:
            if sample:
                from core.sample import load_sample

                for result in load_sample(store, sample_dir, user=_acting_user(store, user, "ingest")):
                    typer.echo(f"{result.table}: {result.rows_loaded} rows loaded, {result.rows_rejected} rejected")
            typer.echo(f"database ready: {store.path} (schema version {store.schema_version()})")

    _run(body)


@app.command()
def sample(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the sample files to.")] = Path("sample_data"),
    seed: Annotated[int, typer.Option("--seed", help="Random seed; the same seed gives the same files.")] = 0,
) -> None:
    """Generate the deterministic sample data set (orders, customers, products, cost rates)."""

    def body() -> None:
        from core.sample import write_sample

        for path in write_sample(out, seed=seed):
            typer.echo(str(path))

    _run(body)


@app.command()
def ingest(
    ctx: typer.Context,
    table: Annotated[str, typer.Argument(help="orders, customers, products, cost_rates or inventory.")],
    file: Annotated[Path, typer.Argument(help="CSV, Parquet or XLSX file.")],
    map_: Annotated[
        Optional[list[str]], typer.Option("--map", help="Map a source column to a data-model column: SRC=DST (repeatable).")
    ] = None,
    mode: Annotated[Mode, typer.Option("--mode", help="Append to the table or replace its contents.")] = Mode.append,
    allow_returns: Annotated[bool, typer.Option("--allow-returns", help="Keep lines with negative quantity as returns.")] = False,
    sheet: Annotated[Optional[str], typer.Option("--sheet", help="XLSX sheet name or 0-based index (default: the first).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print rows_read, rows_loaded, rows_rejected as JSON.")] = False,
    user: UserOption = None,
    db: DbOption = None,
) -> None:
    """Load a file into a table; rejected rows are kept with file, row, column and reason."""

    def body() -> None:
        from core.ingest import ingest_file, parse_overrides, read_headers, resolve_mapping, source_key_for
        from core.model import table_spec

        table_spec(table)  # unknown table: one clear line before the file is opened
        overrides = parse_overrides(map_)
        sheet_choice: str | int | None = int(sheet) if sheet is not None and sheet.isdigit() else sheet
        with _open_store(ctx, db) as store:
            acting = _acting_user(store, user, "ingest")
            mapping = None
            if overrides:
                headers = read_headers(file, sheet=sheet_choice)
                mapping = resolve_mapping(table, headers, overrides, store, source_key_for(file.name))
            result = ingest_file(store, table, file, mapping=mapping, mode=mode.value,
                                 allow_returns=allow_returns, sheet=sheet_choice, user=acting)
        if as_json:
            typer.echo(json.dumps(result.as_json()))
        else:
            typer.echo(
                f"{result.table}: {result.rows_read} rows read, {result.rows_loaded} loaded, "
                f"{result.rows_rejected} rejected (run {result.run_id})"
            )
            for reason, count in sorted(result.reject_reasons.items(), key=lambda kv: -kv[1]):
                typer.echo(f"  {count:>8}  {reason}")

    _run(body)


@app.command()
def rejects(
    ctx: typer.Context,
    run: Annotated[int, typer.Option("--run", help="Ingest run id (see `segplan runs`).")],
    out: OutOption,
    db: DbOption = None,
) -> None:
    """Write the rejected rows of one ingest run: file, row, column, value, reason."""

    def body() -> None:
        from core.ingest import rejects as run_rejects

        with _open_store(ctx, db) as store:
            frame = run_rejects(store, run)
        _write_csv(frame, out)
        typer.echo(f"{len(frame)} rejects written to {out}")

    _run(body)


@app.command()
def features(
    ctx: typer.Context,
    out: OutOption,
    level: LevelOption = Level.product,
    bucket: BucketOption = Bucket.week,
    db: DbOption = None,
) -> None:
    """Compute features per item of a level (key columns + features) into a CSV."""

    def body() -> None:
        from core.features import compute_features

        with _open_store(ctx, db) as store:
            frame = compute_features(store, level.value, bucket.value)
        _write_csv(frame, out)
        typer.echo(f"{len(frame)} {level.value} rows written to {out}")

    _run(body)


@app.command()
def classify(
    ctx: typer.Context,
    out: OutOption,
    level: LevelOption = Level.product,
    measure: Annotated[Measure, typer.Option("--measure", help="Measure ABC ranks on.")] = Measure.revenue,
    bucket: BucketOption = Bucket.week,
    abc_cutoffs: Annotated[str, typer.Option("--abc-cutoffs", help="Cumulative-share cut-offs of A and B.")] = "0.8,0.95",
    xyz_cutoffs: Annotated[str, typer.Option("--xyz-cutoffs", help="Coefficient-of-variation cut-offs of X and Y.")] = "0.5,1.0",
    adi_cutoff: Annotated[float, typer.Option("--adi-cutoff", help="ADI cut-off of the demand pattern.")] = 1.32,
    cv2_cutoff: Annotated[float, typer.Option("--cv2-cutoff", help="CV² cut-off of the demand pattern.")] = 0.49,
    db: DbOption = None,
) -> None:
    """ABC, XYZ and demand-pattern class per item, with the values used, into a CSV."""

    def body() -> None:
        from core.classify import classify as classify_items

        abc = _parse_cutoffs(abc_cutoffs, "--abc-cutoffs")
        xyz = _parse_cutoffs(xyz_cutoffs, "--xyz-cutoffs")
        with _open_store(ctx, db) as store:
            frame = classify_items(store, level.value, measure.value, bucket.value, abc, xyz, adi_cutoff, cv2_cutoff)
        _write_csv(frame, out)
        typer.echo(f"{len(frame)} {level.value} rows written to {out}")

    _run(body)


@app.command()
def runs(ctx: typer.Context, db: DbOption = None) -> None:
    """List the ingest runs: id, table, file, mode, rows read / loaded / rejected."""

    def body() -> None:
        with _open_store(ctx, db) as store:
            rows = store.cursor().execute(
                "SELECT run_id, table_name, source_name, mode, rows_read, rows_loaded, rows_rejected, started_at "
                "FROM ingest_runs ORDER BY run_id"
            ).fetchall()
        for run_id, table, source, mode, read, loaded, rejected, started in rows:
            typer.echo(f"{run_id:>5}  {started:%Y-%m-%d %H:%M}  {table:<11} {mode:<8} {read:>9} read {loaded:>9} loaded {rejected:>7} rejected  {source}")

    _run(body)


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


FORECAST_METHODS = ("auto", "ses", "holt", "holt_winters", "croston", "sba", "tsb")


class DemandSource(str, Enum):
    history = "history"
    forecast_errors = "forecast_errors"


@app.command()
def forecast(
    ctx: typer.Context,
    out: OutOption,
    level: LevelOption = Level.product,
    bucket: BucketOption = Bucket.week,
    method: Annotated[str, typer.Option("--method", help="auto, ses, holt, holt_winters, croston, sba or tsb.")] = "auto",
    alpha: Annotated[Optional[float], typer.Option(
        "--alpha", help="Smoothing constant in (0, 1] (default: fitted per item).", show_default=False)] = None,
    horizon: Annotated[int, typer.Option("--horizon", help="Future buckets to forecast.")] = 12,
    db: DbOption = None,
) -> None:
    """Forecast demand per item: method used, then one column per future bucket (its start date)."""

    def body() -> None:
        from core.features import bucket_demand
        from core.forecast import forecast as forecast_demand

        if method not in FORECAST_METHODS:
            raise SegplanError(f"--method {method!r} is unknown", hint="choose one of: " + ", ".join(FORECAST_METHODS))
        with _open_store(ctx, db) as store:
            demand = bucket_demand(store, level.value, bucket.value)
        if demand.empty:
            raise SegplanError("no order lines are loaded, so there is no demand to forecast", hint="load orders first")
        result = forecast_demand(demand, method=method, alpha=alpha, horizon=horizon, bucket=bucket.value)
        frame = result.wide()
        _write_csv(frame, out)
        used = result.items["method"].value_counts().sort_index()
        typer.echo(f"{len(frame)} {level.value} forecasts of {horizon} {bucket.value}(s) written to {out} ("
                   + ", ".join(f"{name} {count}" for name, count in used.items()) + ")")

    _run(body)


@app.command()
def policy(
    ctx: typer.Context,
    version: VersionOption,
    out: OutOption,
    ordering_cost: Annotated[Optional[float], typer.Option(
        "--ordering-cost", help="Cost per order, for the EOQ (with --holding-rate).", show_default=False)] = None,
    holding_rate: Annotated[Optional[float], typer.Option(
        "--holding-rate", help="Holding cost as a share of unit cost per year, for the EOQ (with --ordering-cost).",
        show_default=False)] = None,
    demand_source: Annotated[DemandSource, typer.Option(
        "--demand-source", help="Demand variability: history (demand_std) or forecast_errors (backtest RMSE).")
    ] = DemandSource.history,
    bucket: Annotated[Optional[Bucket], typer.Option(
        "--bucket", help="Demand bucket (default: the version's).", show_default=False)] = None,
    default_lead_time_days: Annotated[Optional[float], typer.Option(
        "--default-lead-time-days", help="Lead time for products with none in products or orders.",
        show_default=False)] = None,
    db: DbOption = None,
) -> None:
    """Per item of a version: its segment's policy, safety stock, reorder point, order quantity and inputs."""

    def body() -> None:
        from core.policy_plan import policy_items

        with _open_store(ctx, db) as store:
            frame = policy_items(store, version, bucket=bucket.value if bucket else None,
                                 demand_source=demand_source.value, ordering_cost=ordering_cost,
                                 holding_rate=holding_rate, default_lead_time_days=default_lead_time_days)
        _write_csv(frame, out)
        sources = frame["lead_time_source"].value_counts().sort_index()
        typer.echo(f"{len(frame)} items of version {version} planned to {out} (lead time from: "
                   + ", ".join(f"{name} {count}" for name, count in sources.items()) + ")")
        if "assumed_one_bucket" in sources.index:
            typer.echo(f"note: {sources['assumed_one_bucket']} item(s) have no lead time in products or orders; one "
                       f"{frame['bucket'].iloc[0]} was assumed: load products.lead_time_days or give "
                       "--default-lead-time-days", err=True)

    _run(body)


@app.command()
def allocate(
    ctx: typer.Context,
    version: VersionOption,
    supply: Annotated[Path, typer.Option("--supply", help="CSV: product_id, available_quantity.")],
    orders: Annotated[Path, typer.Option(
        "--orders", help="CSV of open order lines: order_id, line_number (optional), customer_id, product_id, quantity.")],
    out: OutOption,
    db: DbOption = None,
) -> None:
    """Allocate short supply to open order lines by the allocation tier of each line's segment."""

    def body() -> None:
        from core.policy_plan import allocate_version, read_orders, read_supply, version_info

        with _open_store(ctx, db) as store:
            level = str(version_info(store, version)["level"])
            stock = read_supply(supply)
            lines = read_orders(orders, level)
            result = allocate_version(store, version, stock, lines)
        _write_csv(result.lines, out)
        typer.echo(f"{len(result.lines)} order lines allocated by version {version} to {out}")
        for row in result.summary.itertuples(index=False):
            fill = "-" if row.fill_rate != row.fill_rate else f"{row.fill_rate:.1%}"
            typer.echo(f"  {row.segment!s:>16}  tier {row.allocation_tier:<3} {row.ordered:>9} ordered "
                       f"{row.allocated:>9} allocated  fill rate {fill:>6}  {row.lines_cut} of {row.lines} lines cut")

    _run(body)


from core import cli_users  # noqa: E402,F401 - registers commands
from core import cli_monitor  # noqa: E402,F401 - registers commands
from core import cli_govern  # noqa: E402,F401 - registers commands
from core import cli_alerts  # noqa: E402,F401 - registers commands

if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
