"""segplan core: a pure library (no Streamlit) shared by the app pages and the `segplan` CLI.

One module per step of the loop: `store` (the DuckDB file), `model` (the data model),
`ingest`, `features`, `classify`, `sample` (the sample-data generator), `cli`.
"""

__version__ = "0.1.0"
