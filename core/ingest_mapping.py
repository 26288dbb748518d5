"""Ingest: which source column feeds which data-model column, and remembering it per source.

A mapping is ``{source header: model column}``. Suggestions match headers to the model by
normalized name, then by the ERP synonyms in core/model.py; a mapping remembered for the same
source (table ``source_mappings``) wins over both.

The source key is the file name without folders, extensions, digits (dates, counters,
versions) and punctuation, lowercased: ``Orders_2024-03-31.csv`` and ``orders 2024-04.xlsx``
share the key ``orders``, so next month's export reuses this month's confirmed mapping. Each
confirmed mapping is also stored under the file's header signature (a hash of its normalized
headers), so a file with the same columns under another name, or named only by a date, finds
it too.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from core.errors import SegplanError
from core.model import normalize_header, table_spec
from core.store import Store


def source_key_for(name: str | Path, headers: list[str] | None = None) -> str:
    """The key a remembered mapping is stored under: the file's name without folders,
    extensions, digits (dates, counters) and punctuation. A name that is nothing but a date
    ('2024-05.csv') says nothing about the source: the header signature is the key then.
    """
    stem = Path(str(name)).name
    while Path(stem).suffix and len(Path(stem).suffix) <= 8 and not Path(stem).suffix[1:].isdigit():
        stem = Path(stem).stem
    words = re.sub(r"[^a-z]+", " ", re.sub(r"\d+", " ", stem.lower())).split()
    if words:
        return " ".join(words)
    if headers:
        return header_signature(headers)
    return "unnamed"


def header_signature(headers: list[str]) -> str:
    """'columns:' + a hash of the normalized headers: the same layout under any file name."""
    import hashlib

    signature = "|".join(normalize_header(h) for h in headers)
    return "columns:" + hashlib.sha1(signature.encode()).hexdigest()[:12]


def remembered_mapping(store: Store, table: str, source_key: str) -> dict[str, str] | None:
    rows = store.cursor().execute(
        "SELECT mapping FROM source_mappings WHERE source_key = ? AND table_name = ?", [source_key, table]
    ).fetchall()
    return json.loads(rows[0][0]) if rows else None


def suggest_mapping(
    table: str, headers: list[str], store: Store | None = None, source_key: str | None = None
) -> dict[str, str]:
    """Source header -> data-model column: a remembered mapping for source_key first, else by
    normalized name, then by ERP synonym (each model column fed by at most one header)."""
    spec = table_spec(table)
    mapping: dict[str, str] = {}
    if store is not None:
        # the source's own mapping first, else one confirmed for a file with the same headers
        remembered = remembered_mapping(store, table, source_key) if source_key else None
        if remembered is None:
            remembered = remembered_mapping(store, table, header_signature(headers)) or {}
        for header, column in remembered.items():
            if header in headers and column in spec.column_names and column not in mapping.values():
                mapping[header] = column
    by_name = {normalize_header(c.name): c.name for c in spec.columns}
    by_synonym: dict[str, str] = {}
    for col in spec.columns:
        for synonym in col.synonyms:
            by_synonym.setdefault(normalize_header(synonym), col.name)
    for lookup in (by_name, by_synonym):
        for header in headers:
            if header in mapping:
                continue
            column = lookup.get(normalize_header(header))
            if column and column not in mapping.values():
                mapping[header] = column
    return {h: mapping[h] for h in headers if h in mapping}


def parse_overrides(pairs: list[str] | None) -> dict[str, str]:
    """``["SRC=DST", ...]`` (the CLI's --map) as a dict; ``SRC=`` unmaps SRC."""
    overrides: dict[str, str] = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise SegplanError(f"--map {pair!r} is not SOURCE=COLUMN", hint="e.g. --map InvoiceNo=order_id")
        source, _, column = pair.partition("=")
        overrides[source.strip()] = column.strip()
    return overrides


def resolve_mapping(
    table: str,
    headers: list[str],
    overrides: dict[str, str] | None = None,
    store: Store | None = None,
    source_key: str | None = None,
) -> dict[str, str]:
    """The suggestion with the user's choices on top: ``{source: column}`` sets or moves a
    column, ``{source: ""}`` leaves that source column out. Validated (see check_mapping)."""
    mapping = suggest_mapping(table, headers, store, source_key)
    for source, column in (overrides or {}).items():
        if source not in headers:
            raise SegplanError(
                f"column {source!r} is not in the file", hint="columns are: " + ", ".join(headers)
            )
        if not column:
            mapping.pop(source, None)
            continue
        # the override takes the column from whichever header the suggestion gave it to
        mapping = {h: c for h, c in mapping.items() if c != column}
        mapping[source] = column
    check_mapping(table, headers, mapping, source_name=None)
    return {h: mapping[h] for h in headers if h in mapping}


def check_mapping(table: str, headers: list[str], mapping: dict[str, str], source_name: str | None) -> None:
    """Unknown model columns, headers not in the file, one column fed twice: SegplanError."""
    spec = table_spec(table)
    where = f"{source_name}: " if source_name else ""
    for header, column in mapping.items():
        if column not in spec.column_names:
            raise SegplanError(
                f"{where}mapping {header!r} -> {column!r}: {table} has no column {column!r}",
                hint="columns are: " + ", ".join(spec.column_names),
            )
        if header not in headers:
            raise SegplanError(
                f"{where}mapping names column {header!r}, which is not in the file",
                hint="columns in the file are: " + ", ".join(headers),
            )
        if headers.count(header) > 1:
            raise SegplanError(
                f"{where}column {header!r} appears {headers.count(header)} times in the file's header",
                hint="rename the repeated columns so each has its own name",
            )
    seen: dict[str, str] = {}
    for header, column in mapping.items():
        if column in seen:
            raise SegplanError(
                f"{where}both {seen[column]!r} and {header!r} are mapped to {table}.{column}",
                hint="map one source column to each model column",
            )
        seen[column] = header


def missing_required(table: str, mapping: dict[str, str]) -> list[str]:
    mapped = set(mapping.values())
    return [c for c in table_spec(table).required if c not in mapped]
