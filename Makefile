# labelport: `make demo` runs the main job on the embedded default, `make test` runs every check.
# Both create the virtualenv (.venv) and install what they need on first use.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck unit install bench-import bench-export clean

demo: $(STAMP)
	$(BIN)/labelport demo

test: $(STAMP) lint typecheck unit

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest -n 2 --dist loadgroup

install: $(STAMP)

$(BIN)/python:
	./scripts/bootstrap-venv "$(PYTHON)" $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[postgres,dev]'
	touch $@

bench-import: $(STAMP)
	$(BIN)/python bench/import_rows.py

bench-export: $(STAMP)
	$(BIN)/python bench/export_rows.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
