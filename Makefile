# segplan: `make run` starts the app on the sample database; `make test` runs every test.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
DB     ?= $(or $(SEGPLAN_DB),data/segplan.duckdb)
PORT   ?= 8501

.PHONY: install install-test run db test test-fast bench sample clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(PY) -m pip install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

# The sample database, built from sample_data/ when absent.
$(DB): | $(VENV)/.installed
	$(VENV)/bin/segplan --db $(DB) init --sample

db: $(DB)

run: install $(DB)
	SEGPLAN_DB=$(DB) $(VENV)/bin/streamlit run app.py --server.port=$(PORT)

test: install-test
	$(PY) -m pytest

# Everything but the real-browser journeys.
test-fast: install-test
	$(PY) -m pytest -m "not browser"

bench: install-test
	$(PY) -m bench

# Regenerate sample_data/ from the deterministic generator (core/sample.py).
sample: install
	$(VENV)/bin/segplan sample --out sample_data

clean:
	rm -rf $(VENV) .pytest_cache
