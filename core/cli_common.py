"""What every `segplan` command module shares: the typer app, its callback, option types and helpers.

The commands themselves live in the core/cli_*.py modules, registered on this app by the imports
in core/cli.py (the entry point, `core.cli:app`). A problem the user can fix (`SegplanError`)
prints one line on stderr and exits 1; heavy modules are imported inside commands so that
`segplan --help` answers at once.
"""

from __future__ import annotations

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
