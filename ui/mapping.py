"""The Data page's column-mapping editor, as plain data: what to prefill, and what is wrong.

Kept apart from the page so the checks run (and are tested) without drawing anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.model import TableSpec

#: The choice meaning "this data-model column is not in the file".
NOT_MAPPED = "— not in file —"


@dataclass
class MappingCheck:
    """A mapping as chosen on screen: source header -> model column, and its problems."""

    mapping: dict[str, str] = field(default_factory=dict)
    missing_required: list[str] = field(default_factory=list)
    #: header -> model columns it was chosen for, when more than one
    doubled: dict[str, list[str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.missing_required and not self.doubled


def prefill(spec: TableSpec, suggestion: dict[str, str], headers: list[str]) -> dict[str, str]:
    """Model column -> header to preselect, from a suggestion (header -> model column)."""
    by_column: dict[str, str] = {}
    for header, column in suggestion.items():
        if header in headers and column in spec.column_names:
            by_column.setdefault(column, header)
    return by_column


def check_mapping(spec: TableSpec, chosen: dict[str, str | None]) -> MappingCheck:
    """Turn per-column choices (model column -> header or NOT_MAPPED) into a mapping and its problems."""
    check = MappingCheck()
    used: dict[str, list[str]] = {}
    for column in spec.column_names:
        header = chosen.get(column)
        if header is None or header == NOT_MAPPED:
            if spec.column(column).required:
                check.missing_required.append(column)
            continue
        used.setdefault(header, []).append(column)
        check.mapping[header] = column
    check.doubled = {header: columns for header, columns in used.items() if len(columns) > 1}
    return check
