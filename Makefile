# paperboy: `make run` starts the bot, `make test` runs `make lint` and the suite, `make bench`
# the benchmarks.
# Each target creates .venv on first use (python3 >= 3.11 is all it needs).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: run test bench lint fmt clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "paperboy needs Python 3.11 or newer")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

run: $(STAMP)
	$(BIN)/paperboy migrate --quiet
	$(BIN)/paperboy run

# Tests run on every core (pytest-xdist); PYTEST_WORKERS=0 runs them in this one process.
PYTEST_WORKERS ?= auto

test: lint
	$(BIN)/python -m pytest -q -p no:cacheprovider -n $(PYTEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python bench/matching.py
	$(BIN)/python bench/fanout.py
	$(BIN)/python bench/search.py
	$(BIN)/python bench/trends.py

# ruff; import-linter (the layers of docs/design.md, [tool.importlinter]); mypy. mypy cannot
# follow the editable install's import hook and the folders are not named as the packages,
# so it reads them through .typecheck/, symlinks under the import names.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	@mkdir -p .typecheck
	@ln -sfn ../bot .typecheck/paperboy
	@ln -sfn ../adapters .typecheck/paperboy_adapters
	@ln -sfn ../config .typecheck/paperboy_config
	cd .typecheck && ../$(BIN)/mypy --config-file ../pyproject.toml --python-executable ../$(BIN)/python \
		-p paperboy -p paperboy_adapters -p paperboy_config

fmt: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .typecheck paperboy.db
