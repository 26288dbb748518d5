"""`segplan init|sample|ingest|rejects|features|classify|runs`: the data steps, from files to features and classes.

Registered on the app by the import in core/cli.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from core.cli_common import (
    Bucket,
    BucketOption,
    DbOption,
    Level,
    LevelOption,
    Measure,
    Mode,
    OutOption,
    UserOption,
    _acting_user,
    _open_store,
    _parse_cutoffs,
    _run,
    _write_csv,
    app,
)


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
