"""Docs are part of the code: a command, option, page or data-model column left undocumented fails here."""

from __future__ import annotations

import re
from pathlib import Path

import typer.main

from core.cli import app
from core.model import TABLES

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_every_command_and_option_is_in_cli_doc():
    text = (DOCS / "cli.md").read_text()
    group = typer.main.get_command(app)
    for name, command in group.commands.items():
        assert f"segplan {name}" in text, f"docs/cli.md does not describe `segplan {name}`"
        for param in command.params:
            for opt in getattr(param, "opts", []):
                if opt.startswith("--") and opt != "--help":
                    assert opt in text, f"docs/cli.md does not mention {opt} of `segplan {name}`"


def test_every_data_model_column_is_in_data_model_doc():
    text = (DOCS / "data-model.md").read_text()
    for table in TABLES.values():
        assert f"`{table.name}`" in text
        for column in table.columns:
            assert f"`{column.name}`" in text, f"docs/data-model.md does not describe {table.name}.{column.name}"


def test_every_page_is_in_pages_doc():
    text = (DOCS / "pages.md").read_text()
    app_source = (DOCS.parent / "app.py").read_text()
    for page_file in re.findall(r"pages/(\w+)\.py", app_source):
        assert f"pages/{page_file}.py" in text, f"docs/pages.md does not describe pages/{page_file}.py"


def test_every_feature_is_in_formulas_doc():
    from core.features import LEVELS, feature_catalog

    text = (DOCS / "formulas.md").read_text()
    for level in LEVELS:
        for spec in feature_catalog(level):
            assert f"`{spec.name}`" in text, f"docs/formulas.md does not define feature {spec.name} ({level})"
