"""The Segment page's rule editor: table rows (name, feature, operator, value) to the engine's rule list."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

#: The rows the editor starts with: an example a planner edits rather than a blank table.
DEFAULT_RULES = [
    {"name": "Runners", "feature": "abc", "operator": "==", "value": "A"},
    {"name": "Runners", "feature": "xyz", "operator": "in", "value": "X, Y"},
    {"name": "Sporadic", "feature": "adi", "operator": ">", "value": "1.32"},
    {"name": "Other", "feature": None, "operator": None, "value": None},
]


def rules_from_rows(rows: Sequence[Mapping[str, object]]) -> list[dict[str, object]]:
    """Editor rows -> engine rules: consecutive rows with one name are one rule (all conditions hold);
    a row without a feature is the default rule. Values: numbers where they read as numbers,
    comma-separated lists for in / not in / between."""
    rules: list[dict] = []
    for row in rows:
        name = _text(row.get("name"))
        if not name:
            continue
        if not rules or rules[-1]["name"] != name:
            rules.append({"name": name, "when": []})
        feature = _text(row.get("feature"))
        if feature:
            operator = _text(row.get("operator")) or "=="
            raw = _text(row.get("value"))
            if operator in ("in", "not in", "between"):
                value = [parse_value(part) for part in raw.split(",") if part.strip()]
            elif operator in ("is missing", "is not missing"):
                value = None
            else:
                value = parse_value(raw)
            rules[-1]["when"].append([feature, operator, value])
    return [{"name": r["name"], "when": r["when"]} if r["when"] else {"name": r["name"]} for r in rules]


def parse_value(text: str) -> object:
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        return text


def _text(value: object) -> str:
    """A cell as stripped text; empty cells (None, NaN) as ''."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()
