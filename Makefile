# Cephalon: `make run` starts the console, `make test` runs every test.
# Both set everything up first (a venv in .venv with all extras), so they work
# on a fresh clone with nothing but python3 (>= 3.11) and make.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
EXTRAS := local,discord,dev

.PHONY: setup run test test-fast check bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Cephalon needs Python 3.11+")'
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q --upgrade uv || true
	@if [ -x $(VENV)/bin/uv ]; then \
	    $(VENV)/bin/uv pip install -q --python $(PY) -e '.[$(EXTRAS)]'; \
	else \
	    $(VENV)/bin/python -m pip install -q -e '.[$(EXTRAS)]'; \
	fi
	touch $(STAMP)

run: setup
	$(VENV)/bin/cephalon

test: setup
	$(PY) -m pytest

# Everything but the tests that load the embedded LLM.
test-fast: setup
	$(PY) -m pytest -m "not model"

check: setup
	$(VENV)/bin/ruff check engine cephalon_tui tests bench
	$(VENV)/bin/mypy engine cephalon_tui
	$(VENV)/bin/lint-imports

bench: setup
	@for script in bench/bench_*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
